"""Spanish, German, French, Portuguese and Italian: the language is told and the feeling read.

The sentences below were written for this file (dev data, seen while tuning the lexicon);
the blind measurement is elsewhere.

Issue 9 generalisation round (``FRESH``, ``PROBE``, ``THIRD``), each batch written before the
changes it drove, first pass on the code as it stood: ``FRESH`` (14 a language) 49/70
(commit 954ec72; idioms such as "hasta el moño", "Schiss", "la trouille", "de saco cheio",
"un bene dell'anima" and scenes read as neutral); ``PROBE`` (6 a language) 17/30
after about 650 idioms, scenes and word beginnings were added; ``THIRD`` (2 a language) 6/10
after the second round. Now 109/110 (one strict xfail), language told right in all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from kmidi import language
from kmidi.affect import Affect, analyse_text
from kmidi.emotions import PRESETS

SENTENCES: dict[str, list[tuple[str, str]]] = {
    "es": [
        ("Hoy estoy muy triste y no sé por qué.", "sadness"),
        ("Mi abuela falleció el martes y todavía no me lo creo.", "sadness"),
        ("Me siento sola desde que te fuiste.", "sadness"),
        ("Tengo mucho miedo de perder el trabajo.", "fear"),
        ("Estoy nerviosa por el examen de mañana.", "fear"),
        ("¡Estoy harto de que nadie me escuche! Qué rabia.", "anger"),
        ("Echo de menos los veranos en el pueblo con mis primos.", "nostalgia"),
        ("Por fin en casa, tranquila, con una taza de té.", "peace"),
        ("¡Qué alegría! Hemos aprobado todos.", "joy"),
        ("Mi bebé se ha dormido en mis brazos, qué ternura.", "tenderness"),
        ("Te quiero con todo mi corazón.", "tenderness"),
        ("Ante el mar inmenso me sentí tan pequeña.", "awe"),
        ("Ya no siento nada, todo me da igual.", "detachment"),
    ],
    "de": [
        ("Ich bin heute so traurig.", "sadness"),
        ("Mein Opa ist letzte Woche gestorben.", "sadness"),
        ("Seit dem Umzug fühle ich mich so einsam.", "sadness"),
        ("Ich habe Angst vor der Operation.", "fear"),
        ("Ich mache mir große Sorgen wegen der Prüfung morgen.", "fear"),
        ("Ich bin so wütend auf meinen Chef!", "anger"),
        ("Ich gebe nicht auf, jetzt erst recht.", "anger"),
        ("Ich denke oft an meine Kindheit bei Oma auf dem Land.", "nostalgia"),
        ("Sonntagmorgen, alles ist ruhig und ich bin ganz entspannt.", "peace"),
        ("Ich freue mich riesig, wir bekommen ein Baby!", "joy"),
        ("Ich liebe dich mehr als alles andere.", "tenderness"),
        ("Der Sternenhimmel in den Bergen war atemberaubend.", "awe"),
        ("Ich fühle nichts mehr, alles ist mir egal.", "detachment"),
    ],
    "fr": [
        ("Je suis tellement triste ce soir.", "sadness"),
        ("Ma grand-mère est morte hier, j'ai le cœur brisé.", "sadness"),
        ("Je me sens seule dans cette grande ville.", "sadness"),
        ("J'ai peur du noir depuis que je suis petite.", "fear"),
        ("Je suis très stressé avant mon entretien d'embauche.", "fear"),
        ("Je suis furieux, il m'a encore menti !", "anger"),
        ("Je repense souvent à mon enfance, le bon vieux temps.", "nostalgia"),
        ("Je me sens calme et apaisée au bord du lac.", "peace"),
        ("Je suis si heureuse, j'ai eu le poste !", "joy"),
        ("J'espère que demain sera meilleur.", "joy"),
        ("Je t'aime, mon amour.", "tenderness"),
        ("Devant ces montagnes immenses, je suis resté bouche bée.", "awe"),
        ("Je me sens vide à l'intérieur, plus rien ne compte.", "detachment"),
    ],
    "pt": [
        ("Estou muito triste hoje.", "sadness"),
        ("Minha avó morreu ontem e eu não paro de chorar.", "sadness"),
        ("Me sinto tão sozinha nesta cidade.", "sadness"),
        ("Tenho medo de ficar sem emprego.", "fear"),
        ("Estou ansiosa com a entrevista de amanhã.", "fear"),
        ("Estou com muita raiva do meu irmão.", "anger"),
        ("Que saudade da minha infância na casa da minha avó.", "nostalgia"),
        ("Domingo de manhã, tudo calmo, estou em paz.", "peace"),
        ("Estou tão feliz, passei no vestibular!", "joy"),
        ("Tenho esperança de que tudo vai dar certo.", "joy"),
        ("Meu bebê adormeceu nos meus braços, que ternura.", "tenderness"),
        ("O céu estrelado no deserto me deixou sem palavras.", "awe"),
        ("Não sinto nada, tanto faz.", "detachment"),
    ],
    "it": [
        ("Oggi sono molto triste.", "sadness"),
        ("Mio nonno è morto la settimana scorsa.", "sadness"),
        ("Mi sento sola da quando si è trasferita.", "sadness"),
        ("Ho paura di perdere il lavoro.", "fear"),
        ("Sono in ansia per l'esame di domani.", "fear"),
        ("Sono arrabbiatissimo con mio fratello, che rabbia!", "anger"),
        ("Mi mancano le estati dai nonni, che nostalgia.", "nostalgia"),
        ("Che pace, sono sdraiata sul divano e tutto è tranquillo.", "peace"),
        ("Sono felicissima, ci sposiamo!", "joy"),
        ("Ti voglio bene, amore mio.", "tenderness"),
        ("Guardando la Via Lattea mi sono sentito così piccolo.", "awe"),
        ("Non provo niente, mi sento vuota dentro.", "detachment"),
        ("Abbiamo vinto il campionato, siamo campioni!", "joy"),
    ],
}
MORE: dict[str, list[tuple[str, str]]] = {
    "es": [
        ("Desde que murió mi padre no tengo ganas de nada.", "sadness"),
        ("Mañana me operan y no puedo dejar de pensar en ello.", "fear"),
        ("Mi jefe me ha gritado delante de todos y estoy que ardo.", "anger"),
        ("Hoy he visto a mi nieta dar sus primeros pasos, ¡qué felicidad!", "joy"),
        ("Paseando por la playa al atardecer, todo está en calma.", "peace"),
        ("Me acuerdo de las tardes en casa de mis abuelos.", "nostalgia"),
        ("Estoy agotada, no siento nada, solo quiero dormir.", "detachment"),
        ("Las noches se me hacen eternas sin ti.", "sadness"),
        ("¡Nos vamos de vacaciones! Estoy emocionadísima.", "joy"),
        ("Tengo un mal presentimiento, algo va a pasar.", "tension"),
        ("Nadie vino a mi cumpleaños.", "sadness"),
        ("Me preocupa mucho la salud de mi madre.", "fear"),
        ("Llevo toda la semana llorando por él.", "sadness"),
        ("¿Y si no me cogen en la universidad?", "fear"),
        ("Me tiene hasta las narices, de verdad.", "anger"),
        ("¡Me ha tocado la lotería, no me lo puedo creer!", "joy"),
        ("Mi hija me abrazó antes de dormir y se me derritió el corazón.", "tenderness"),
        ("Qué bonito es ver nevar por primera vez.", "awe"),
        ("Me siento como si estuviera viendo mi vida desde fuera.", "detachment"),
        ("Ojalá todo mejore pronto.", "joy"),
    ],
    "de": [
        ("Seit Papa tot ist, ist alles so leer.", "sadness"),
        ("Morgen habe ich eine Operation und ich bin total nervös.", "fear"),
        ("Mein Nachbar macht mich wahnsinnig, ich könnte schreien!", "anger"),
        ("Wir haben gestern geheiratet, ich bin so glücklich!", "joy"),
        ("Am See ist es so friedlich heute Abend.", "peace"),
        ("Ich erinnere mich gern an die Sommerferien bei meinen Großeltern.", "nostalgia"),
        ("Ich funktioniere nur noch, wie auf Autopilot.", "detachment"),
        ("Keiner hat an meinen Geburtstag gedacht.", "sadness"),
        ("Ich vermisse dich so sehr, mein Schatz.", "tenderness"),
        ("Endlich Urlaub, ich freue mich so!", "joy"),
        ("Ich habe solche Angst, dass er nicht zurückkommt.", "fear"),
        ("Wie schön das Nordlicht war, ich war sprachlos.", "awe"),
        ("Ich heule seit Tagen wegen ihm.", "sadness"),
        ("Was, wenn ich die Stelle nicht bekomme?", "fear"),
        ("Das regt mich so auf!", "anger"),
        ("Ich habe im Lotto gewonnen, unglaublich!", "joy"),
        ("Meine Tochter hat mich vor dem Schlafen umarmt, so süß.", "tenderness"),
        ("Es fühlt sich an, als würde ich mein Leben von außen sehen.", "detachment"),
        ("Ich hoffe, es wird bald besser.", "joy"),
        ("Ich bin total gestresst wegen der Arbeit.", "fear"),
    ],
    "fr": [
        ("Depuis la mort de mon père, je n'ai plus goût à rien.", "sadness"),
        ("Demain je passe le bac et j'ai une boule au ventre.", "fear"),
        ("Mon voisin fait du bruit toute la nuit, ça me rend dingue !", "anger"),
        ("On s'est mariés samedi, je suis aux anges !", "joy"),
        ("Une soirée tranquille au coin du feu, rien de plus.", "peace"),
        ("Je me souviens des vacances chez mes grands-parents.", "nostalgia"),
        ("Je vis en pilote automatique depuis des semaines.", "detachment"),
        ("Personne n'est venu à mon anniversaire.", "sadness"),
        ("Tu me manques tellement, mon cœur.", "tenderness"),
        ("Enfin les vacances, je suis trop contente !", "joy"),
        ("J'ai tellement peur qu'il ne revienne pas.", "fear"),
        ("Quand j'ai vu les aurores boréales, je suis resté sans voix.", "awe"),
        ("Je pleure depuis des jours à cause de lui.", "sadness"),
        ("Et si je ne suis pas prise à la fac ?", "fear"),
        ("Ça me soûle, vraiment.", "anger"),
        ("J'ai gagné au loto, c'est incroyable !", "joy"),
        ("Ma fille m'a fait un câlin avant de dormir, ça m'a fait fondre.", "tenderness"),
        ("J'ai l'impression de regarder ma vie de l'extérieur.", "detachment"),
        ("J'espère que ça ira mieux bientôt.", "joy"),
        ("Je suis débordée au travail, je stresse à mort.", "fear"),
    ],
    "pt": [
        ("Desde que meu pai morreu, não tenho vontade de nada.", "sadness"),
        ("Amanhã vou fazer a cirurgia e estou muito nervoso.", "fear"),
        ("Meu vizinho faz barulho a noite toda, estou com ódio!", "anger"),
        ("Casamos no sábado, estou nas nuvens!", "joy"),
        ("Uma noite tranquila em casa, com um bom livro.", "peace"),
        ("Lembro das férias na casa dos meus avós.", "nostalgia"),
        ("Estou vivendo no piloto automático há semanas.", "detachment"),
        ("Ninguém veio ao meu aniversário.", "sadness"),
        ("Sinto tanto a sua falta, meu amor.", "tenderness"),
        ("Finalmente férias, estou muito animada!", "joy"),
        ("Tenho tanto medo de que ele não volte.", "fear"),
        ("Quando vi a aurora boreal, fiquei sem palavras.", "awe"),
        ("Estou chorando há dias por causa dele.", "sadness"),
        ("E se eu não passar na faculdade?", "fear"),
        ("Isso me deixa muito irritado.", "anger"),
        ("Ganhei na loteria, nem acredito!", "joy"),
        ("Minha filha me abraçou antes de dormir, que fofa.", "tenderness"),
        ("Parece que estou vendo minha vida de fora.", "detachment"),
        ("Espero que tudo melhore logo.", "joy"),
        ("Estou muito estressada com o trabalho.", "fear"),
    ],
    "it": [
        ("Da quando è morto mio padre non ho più voglia di niente.", "sadness"),
        ("Domani ho l'operazione e sono molto nervoso.", "fear"),
        ("Il mio vicino fa rumore tutta la notte, mi fa impazzire!", "anger"),
        ("Ci siamo sposati sabato, sono al settimo cielo!", "joy"),
        ("Una serata tranquilla a casa con un buon libro.", "peace"),
        ("Mi ricordo le vacanze a casa dei nonni.", "nostalgia"),
        ("Vivo con il pilota automatico da settimane.", "detachment"),
        ("Nessuno è venuto al mio compleanno.", "sadness"),
        ("Mi manchi tantissimo, amore mio.", "tenderness"),
        ("Finalmente in vacanza, sono troppo contenta!", "joy"),
        ("Ho tanta paura che non torni più.", "fear"),
        ("Quando ho visto l'aurora boreale sono rimasto senza parole.", "awe"),
        ("Piango da giorni per colpa sua.", "sadness"),
        ("E se non mi prendono all'università?", "fear"),
        ("Mi dà veramente sui nervi.", "anger"),
        ("Ho vinto alla lotteria, non ci credo!", "joy"),
        ("Mia figlia mi ha abbracciato prima di dormire, che tenerezza.", "tenderness"),
        ("Mi sembra di guardare la mia vita da fuori.", "detachment"),
        ("Spero che tutto migliori presto.", "joy"),
        ("Sono stressatissima per il lavoro.", "fear"),
    ],
}
"""Written after the first tuning to probe it: 49 of 60 (the first twelve a language) and
then 26 of 40 (the last eight) were right on their first pass; the misses taught the lexicon
idioms, scenes and superlatives, so these are dev data now too."""
for _lang, _rows in MORE.items():
    SENTENCES[_lang] = SENTENCES[_lang] + _rows
SCENES: dict[str, list[tuple[str, str]]] = {
    "es": [
        ("Me han despedido esta mañana.", "sadness"),
        ("Mañana tengo la entrevista de trabajo.", "fear"),
        ("Oigo pasos detrás de mí en un callejón oscuro.", "fear"),
        ("Se llevó el mérito de mi proyecto delante del jefe.", "anger"),
        ("Encontré el álbum de fotos de cuando éramos pequeños.", "nostalgia"),
        ("Un baño caliente y sin planes para el domingo.", "peace"),
        ("¡Me gradué por fin!", "joy"),
        ("Nuestra primera cita fue en la playa.", "tenderness"),
    ],
    "de": [
        ("Mir wurde heute gekündigt.", "sadness"),
        ("Morgen ist mein Bewerbungsgespräch.", "fear"),
        ("Ich höre Schritte hinter mir in der dunklen Gasse.", "fear"),
        ("Mein Kollege hat meine Idee geklaut.", "anger"),
        ("Ich habe das alte Fotoalbum gefunden.", "nostalgia"),
        ("Ein heißes Bad und keine Pläne am Sonntag.", "peace"),
        ("Ich habe meinen Abschluss!", "joy"),
        ("Sie ist auf meiner Brust eingeschlafen.", "tenderness"),
    ],
    "fr": [
        ("J'ai été viré ce matin.", "sadness"),
        ("Demain j'ai mon entretien d'embauche.", "fear"),
        ("J'entends des pas derrière moi dans une ruelle sombre.", "fear"),
        ("Mon collègue m'a volé mon idée.", "anger"),
        ("J'ai retrouvé l'album photo de quand on était petits.", "nostalgia"),
        ("Un bain chaud et aucun projet ce dimanche.", "peace"),
        ("J'ai eu mon diplôme !", "joy"),
        ("Il s'est endormi sur ma poitrine.", "tenderness"),
    ],
    "pt": [
        ("Fui demitido hoje de manhã.", "sadness"),
        ("Amanhã tenho entrevista de emprego.", "fear"),
        ("Ouço passos atrás de mim num beco escuro.", "fear"),
        ("Meu colega roubou minha ideia.", "anger"),
        ("Achei o álbum de fotos de quando éramos pequenos.", "nostalgia"),
        ("Um banho quente e sem planos no domingo.", "peace"),
        ("Me formei finalmente!", "joy"),
        ("Ela dormiu no meu peito.", "tenderness"),
    ],
    "it": [
        ("Mi hanno licenziato stamattina.", "sadness"),
        ("Domani ho il colloquio di lavoro.", "fear"),
        ("Sento dei passi dietro di me in un vicolo buio.", "fear"),
        ("Il mio collega mi ha rubato l'idea.", "anger"),
        ("Ho ritrovato l'album di foto di quando eravamo piccoli.", "nostalgia"),
        ("Un bagno caldo e nessun programma per domenica.", "peace"),
        ("Mi sono laureata!", "joy"),
        ("Si è addormentata sul mio petto.", "tenderness"),
    ],
}
"""Scenes without a feeling word (fired, an interview, footsteps, a stolen idea…), written
with the scene cues: they check that the cues are wired, not how well they generalise."""
for _lang, _rows in SCENES.items():
    SENTENCES[_lang] = SENTENCES[_lang] + _rows
BODY_AND_IDIOM: dict[str, list[tuple[str, str]]] = {
    "es": [
        ("Llevo días sin salir de casa y sin hablar con nadie.", "sadness"),
        ("Cada vez que suena el teléfono me pongo a temblar.", "fear"),
        ("No soporto que me traten como a un niño.", "anger"),
        ("Hoy hace un sol precioso y me apetece bailar.", "joy"),
        ("Abrazar a mi madre después de tantos años fue lo más bonito.", "tenderness"),
        ("Ver la Sagrada Familia por dentro me dejó sin aliento.", "awe"),
    ],
    "de": [
        ("Ich sitze jeden Abend allein vor dem Fernseher.", "sadness"),
        ("Mein Herz rast, wenn ich an die Präsentation denke.", "fear"),
        ("Ich ertrage diese Ungerechtigkeit nicht mehr.", "anger"),
        ("Heute scheint die Sonne und ich könnte tanzen.", "joy"),
        ("Meine Mutter nach so vielen Jahren zu umarmen war wunderschön.", "tenderness"),
        ("Der Kölner Dom hat mir den Atem geraubt.", "awe"),
    ],
    "fr": [
        ("Je passe mes soirées seul devant la télé.", "sadness"),
        ("Mon cœur s'emballe quand je pense à la réunion de demain.", "fear"),
        ("Je ne supporte plus qu'on me parle comme à un enfant.", "anger"),
        ("Il fait un soleil magnifique et j'ai envie de danser.", "joy"),
        ("Serrer ma mère dans mes bras après tant d'années, c'était si doux.", "tenderness"),
        ("Notre-Dame illuminée la nuit m'a coupé le souffle.", "awe"),
    ],
    "pt": [
        ("Passo as noites sozinho em frente à TV.", "sadness"),
        ("Meu coração dispara quando penso na reunião de amanhã.", "fear"),
        ("Não suporto que me tratem como criança.", "anger"),
        ("Hoje está um sol lindo e estou com vontade de dançar.", "joy"),
        ("Abraçar minha mãe depois de tantos anos foi lindo demais.", "tenderness"),
        ("O Cristo Redentor ao pôr do sol me deixou sem fôlego.", "awe"),
    ],
    "it": [
        ("Passo le serate da solo davanti alla TV.", "sadness"),
        ("Il cuore mi batte forte quando penso alla riunione di domani.", "fear"),
        ("Non sopporto che mi trattino come un bambino.", "anger"),
        ("Oggi c'è un sole splendido e ho voglia di ballare.", "joy"),
        ("Abbracciare mia madre dopo tanti anni è stato bellissimo.", "tenderness"),
        ("Il Duomo illuminato di notte mi ha tolto il fiato.", "awe"),
    ],
}
"""Written last, to probe the finished lexicon: 13 of 30 right on their first pass (a racing
heart, "I can't stand", "took my breath away", sun and dancing); their phrases were then
added, so they are dev data too."""
for _lang, _rows in BODY_AND_IDIOM.items():
    SENTENCES[_lang] = SENTENCES[_lang] + _rows
CASES = [(lang, text, family) for lang, rows in SENTENCES.items() for text, family in rows]

FRESH: dict[str, list[tuple[str, str]]] = {
    "es": [
        ("Estoy fatal, no paro de pensar en ella y se me parte el alma.", "sadness"),
        ("Se me cae el mundo encima desde que me dejó.", "sadness"),
        ("Me tiemblan las piernas, mañana me dan los resultados de la biopsia.", "fear"),
        ("No estoy enfadado, estoy decepcionado, que es peor.", "sadness"),
        ("Estoy hasta el moño de los vecinos y su música a las tres de la mañana.", "anger"),
        ("Al principio tenía miedo, pero al final todo salió genial y estoy feliz.", "joy"),
        ("Olía a las galletas de mi abuela y volví a tener ocho años.", "nostalgia"),
        ("Una tarde en la hamaca, sin prisas, escuchando las olas.", "peace"),
        ("Ya no me importa nada, ni el trabajo ni la gente.", "detachment"),
        ("Mi hija dio sus primeros pasos hoy y me derretí.", "tenderness"),
        ("Desde lo alto del volcán se veía toda la isla, me sentí diminuta.", "awe"),
        ("Faltan diez segundos, el balón está en el aire y nadie respira.", "tension"),
        ("Me han puesto los cuernos y encima se ríe de mí.", "anger"),
        ("Qué gusto volver a casa después de un día tan largo, ducha y sofá.", "peace"),
    ],
    "de": [
        ("Mir geht es gar nicht gut, ich könnte nur noch heulen.", "sadness"),
        ("Seit sie ausgezogen ist, ist die Wohnung so still.", "sadness"),
        ("Ich hab so Schiss vor morgen, ich kann kaum atmen.", "fear"),
        ("Das ist doch eine Frechheit! Ich koche vor Wut.", "anger"),
        ("Ich bin nicht glücklich, eher leer und ausgebrannt.", "detachment"),
        ("Endlich Urlaub! Morgen fliegen wir nach Portugal und ich kann es kaum erwarten.", "joy"),
        ("Die alten Fotos aus der Schulzeit haben mich ganz wehmütig gemacht.", "nostalgia"),
        ("Ein Spaziergang im Wald, nur die Vögel und mein Atem.", "peace"),
        ("Mein kleiner Sohn hat mir heute ein Bild gemalt, mit einem Herz drauf.", "tenderness"),
        ("Als ich oben auf dem Gipfel stand und die Alpen sah, war ich überwältigt.", "awe"),
        ("Gleich wird der Gewinner verkündet, die Spannung ist kaum auszuhalten.", "tension"),
        (
            "Ich habe die Prüfung zwar bestanden, aber meine beste Freundin ist durchgefallen"
            " und mir ist zum Weinen zumute.",
            "sadness",
        ),
        (
            "Schon wieder hat mich mein Chef vor allen runtergemacht, ich hab die Nase voll.",
            "anger",
        ),
        (
            "Ich war anfangs skeptisch, aber das Konzert war der Wahnsinn, ich bin begeistert!",
            "joy",
        ),
    ],
    "fr": [
        ("J'ai le moral à zéro depuis des semaines.", "sadness"),
        ("Il me manque tellement, je n'arrive plus à dormir.", "sadness"),
        ("J'ai la trouille de prendre l'avion demain.", "fear"),
        ("Ça m'énerve, il ne range jamais rien !", "anger"),
        ("On a gagné le match, je saute de joie !", "joy"),
        ("L'odeur du pain chaud me ramène chez ma grand-mère.", "nostalgia"),
        ("Un dimanche tranquille, un bon livre et une tasse de thé.", "peace"),
        ("Je m'en fiche complètement, plus rien ne me touche.", "detachment"),
        ("Mon chat ronronne sur mes genoux pendant que je le caresse.", "tenderness"),
        ("Face au Grand Canyon, je me suis senti minuscule.", "awe"),
        ("Le suspense est insoutenable, le jury va annoncer les résultats.", "tension"),
        ("J'avais peur de lui dire, mais finalement elle a dit oui et je suis aux anges.", "joy"),
        ("Je ne suis pas en colère, juste profondément triste.", "sadness"),
        ("Mon fils est parti vivre à l'étranger, la maison est bien vide sans lui.", "sadness"),
    ],
    "pt": [
        ("Estou arrasada, ele foi embora sem dizer nada.", "sadness"),
        ("Chorei a noite inteira, não aguento mais essa tristeza.", "sadness"),
        ("Estou morrendo de medo do resultado do exame.", "fear"),
        ("Que ódio! Roubaram minha bicicleta de novo.", "anger"),
        ("Não estou feliz nem triste, só sinto um vazio.", "detachment"),
        ("Passei na faculdade! Nem acredito, estou radiante.", "joy"),
        ("Lembro das tardes na praia com meu pai, bons tempos.", "nostalgia"),
        ("Uma rede na varanda, o barulho da chuva, tudo tranquilo.", "peace"),
        ("Meu neto dormiu no meu colo, que coisa mais fofa.", "tenderness"),
        ("A vista do alto da montanha me deixou boquiaberto.", "awe"),
        ("Estou com um nó na garganta desde o enterro.", "sadness"),
        ("O pênalti vai ser cobrado agora, ninguém respira.", "tension"),
        ("Estou de saco cheio desse trânsito todo dia.", "anger"),
        ("Mesmo cansada, estou muito orgulhosa e feliz com a formatura do meu filho.", "joy"),
    ],
    "it": [
        ("Sono giù di morale da quando ho perso il lavoro.", "sadness"),
        ("Mi manca da morire, la casa è vuota senza di lui.", "sadness"),
        ("Ho una paura tremenda di volare.", "fear"),
        ("Sono incazzato nero, mi hanno fregato di nuovo.", "anger"),
        ("Non sono arrabbiata, sono solo stanca di tutto e non sento più niente.", "detachment"),
        ("Che gioia, è nato il mio nipotino!", "joy"),
        ("Le vecchie canzoni di mia madre mi riportano a quando ero piccola.", "nostalgia"),
        ("Una passeggiata sul lago al tramonto, finalmente un po' di pace.", "peace"),
        (
            "Il mio cagnolino mi aspetta sempre alla porta, gli voglio un bene dell'anima.",
            "tenderness",
        ),
        ("Sotto la cupola di San Pietro sono rimasto a bocca aperta.", "awe"),
        ("Mancano pochi secondi alla fine e siamo in parità.", "tension"),
        ("Avevo paura di fallire, ma ce l'ho fatta e sono felicissima.", "joy"),
        ("Ho il cuore a pezzi, mi ha lasciato per un'altra.", "sadness"),
        ("Questa situazione mi fa venire i nervi, nessuno fa il proprio lavoro.", "anger"),
    ],
}
"""As varied as could be: contrast ("al principio… pero al final"), denial ("nicht
glücklich, eher leer"), slang ("Schiss", "incazzato nero", "de saco cheio"), scenes without
a feeling word. First pass 49/70 (module docstring)."""
FRESH_CASES = [(lang, text, family) for lang, rows in FRESH.items() for text, family in rows]


PROBE: dict[str, list[tuple[str, str]]] = {
    "es": [
        (
            "Desde que se fue mi perro la casa está muy silenciosa y lo echo muchísimo de menos.",
            "sadness",
        ),
        ("Otra vez me han cancelado el vuelo, esto es indignante.", "anger"),
        ("Mañana es la operación de mi madre y no puedo parar de temblar.", "fear"),
        ("Por fin hemos terminado la mudanza y estamos tan contentos en la casa nueva.", "joy"),
        ("Me acuerdo de cuando jugábamos en la calle hasta que anochecía.", "nostalgia"),
        ("Todo me parece gris, no tengo ilusión por nada.", "sadness"),
    ],
    "de": [
        ("Meine Oma muss ins Pflegeheim, und mir ist ganz schwer ums Herz.", "sadness"),
        ("Dieser Typ hat sich einfach vorgedrängelt und mich noch angeschnauzt!", "anger"),
        (
            "Mitten in der Nacht klingelt es an der Tür, und ich traue mich nicht aufzumachen.",
            "fear",
        ),
        ("Wir sitzen am Lagerfeuer, die Sterne über uns, alles ist still und friedlich.", "peace"),
        ("Ich habe endlich meinen Führerschein bestanden, ich bin so stolz!", "joy"),
        ("Mir ist alles zu viel, ich spüre gar nichts mehr.", "detachment"),
    ],
    "fr": [
        ("Depuis le départ de mes enfants, je tourne en rond dans l'appartement.", "sadness"),
        ("Le voisin a encore garé sa voiture devant mon garage, j'en peux plus !", "anger"),
        ("J'ai reçu un message bizarre d'un inconnu qui connaît mon adresse.", "fear"),
        ("On a passé la soirée à rire avec les copains, c'était génial.", "joy"),
        ("En rangeant le grenier, j'ai retrouvé mes vieux cahiers d'école.", "nostalgia"),
        ("Je contemplais les étoiles filantes, émerveillée par l'immensité du ciel.", "awe"),
    ],
    "pt": [
        ("Meu cachorro morreu ontem e a casa ficou tão silenciosa.", "sadness"),
        ("Furaram a fila na minha frente e ainda riram da minha cara.", "anger"),
        ("Ouvi um barulho estranho na cozinha às três da manhã e fiquei paralisado.", "fear"),
        ("Pé na areia, água de coco e nenhuma preocupação.", "peace"),
        (
            "Encontrei uma carta antiga da minha avó e passei a tarde lembrando da infância.",
            "nostalgia",
        ),
        ("Não sei mais o que sinto, estou no automático há meses.", "detachment"),
    ],
    "it": [
        ("Da quando se n'è andata mia figlia, la casa è silenziosa e mi sento perso.", "sadness"),
        ("Il mio capo mi ha umiliato davanti a tutti e non è la prima volta.", "anger"),
        ("Stanotte ho sentito dei passi in corridoio e vivo da sola.", "fear"),
        ("Abbiamo passato la domenica a ridere e mangiare con tutta la famiglia.", "joy"),
        ("Ho ritrovato il mio vecchio diario delle medie, quanti ricordi.", "nostalgia"),
        ("Davanti all'oceano in tempesta mi sono sentito minuscolo.", "awe"),
    ],
}
"""Written after ``FRESH`` passed, to measure how far its vocabulary carries: first pass
17/30."""
THIRD: dict[str, list[tuple[str, str]]] = {
    "es": [
        ("Llevo tres noches sin dormir pensando en la entrevista del jueves.", "fear"),
        ("Mi hermano me ha vuelto a dejar plantada y ni siquiera me ha avisado.", "anger"),
    ],
    "de": [
        (
            "Als ich das Ultraschallbild gesehen habe, sind mir vor Glück die Tränen gekommen.",
            "joy",
        ),
        ("Die Stille im Haus ist unerträglich, seit Papa nicht mehr da ist.", "sadness"),
    ],
    "fr": [
        (
            "Ce matin, café sur le balcon, le soleil qui se lève, personne pour me déranger.",
            "peace",
        ),
        (
            "J'ai raté mon train, perdu mon portefeuille et il pleut des cordes. Quelle journée.",
            "anger",
        ),
    ],
    "pt": [
        ("Minha filha me deu um abraço apertado e disse que me ama, derreti toda.", "tenderness"),
        ("Quando vi o mar pela primeira vez, fiquei sem reação de tão lindo.", "awe"),
    ],
    "it": [
        ("Tocca sempre a me sistemare tutto e nessuno dice mai grazie.", "anger"),
        ("Stasera niente, né tristezza né gioia, solo un grande vuoto.", "detachment"),
    ],
}
"""Written after the second batch passed: first pass 6/10."""
for _lang, _rows in THIRD.items():
    PROBE[_lang] = PROBE[_lang] + _rows
STILL_MISSED: dict[str, str] = {}
"""The one missed probe (an empty nest in French) is read since the arbiter (tenth session)."""
PROBE_CASES = [
    pytest.param(
        lang,
        text,
        family,
        marks=[pytest.mark.xfail(strict=True, reason=STILL_MISSED[text])]
        if text in STILL_MISSED
        else [],
    )
    for lang, rows in PROBE.items()
    for text, family in rows
]


@pytest.mark.parametrize(("lang", "text", "family"), PROBE_CASES)
def test_probe_sentences_read_to_their_family_in_their_language(
    lang: str, text: str, family: str
) -> None:
    affect = analyse_text(text)
    assert affect.language == lang, (text, affect.language)
    assert PRESETS[affect.primary].family == family, (text, affect.primary, affect.evidence)


@pytest.mark.parametrize(("lang", "text", "family"), FRESH_CASES)
def test_fresh_sentences_read_to_their_family_in_their_language(
    lang: str, text: str, family: str
) -> None:
    affect = analyse_text(text)
    assert affect.language == lang, (text, affect.language)
    assert PRESETS[affect.primary].family == family, (text, affect.primary, affect.evidence)


SHORT: dict[str, list[str]] = {
    "es": ["estoy triste", "tengo miedo", "te quiero", "estoy sola", "me da igual", "qué rabia"],
    "de": ["ich bin traurig", "ich habe Angst", "ich liebe dich", "so schön", "alles gut"],
    "fr": ["je suis triste", "j'ai peur", "je t'aime", "quelle joie", "j'en ai marre"],
    "pt": ["estou triste", "que saudade", "tenho medo", "te amo", "tanto faz"],
    "it": ["sono triste", "ho paura", "ti amo", "che bello", "sto male", "che rabbia"],
}


def _family(affect: Affect) -> str:
    return PRESETS[affect.primary].family


@pytest.mark.parametrize(("lang", "text", "family"), CASES)
def test_everyday_sentences_read_to_their_family_in_their_language(
    lang: str, text: str, family: str
) -> None:
    affect = analyse_text(text)
    assert affect.language == lang, (text, affect.language)
    assert _family(affect) == family, (text, affect.primary, affect.evidence)


def test_accuracy_per_language_is_reported() -> None:
    right: Counter[str] = Counter()
    told: Counter[str] = Counter()
    for lang, text, family in CASES:
        affect = analyse_text(text)
        right[lang] += _family(affect) == family
        told[lang] += affect.language == lang
    lines = [f"{'language':>9} {'n':>3} {'family':>7} {'language':>9}"]
    for lang, rows in SENTENCES.items():
        n = len(rows)
        lines.append(f"{lang:>9} {n:>3} {right[lang] / n:>7.0%} {told[lang] / n:>9.0%}")
    print("\n" + "\n".join(lines))
    assert all(len(rows) >= 8 for rows in SENTENCES.values())
    assert all(right[lang] >= 0.9 * len(rows) for lang, rows in SENTENCES.items())


@pytest.mark.parametrize(("lang", "text"), [(k, t) for k, texts in SHORT.items() for t in texts])
def test_two_or_three_words_are_enough_to_tell_the_language(lang: str, text: str) -> None:
    assert language.detect(text) == lang


@pytest.mark.parametrize(
    "text",
    [
        "no estoy triste",
        "Je ne suis pas triste.",
        "Ich bin nicht traurig.",
        "Não estou triste.",
        "Non sono triste.",
    ],
)
def test_a_denied_sadness_is_not_sadness(text: str) -> None:
    affect = analyse_text(text)
    assert _family(affect) != "sadness", (text, affect.primary)
    assert affect.evidence[0].startswith("not ")


def test_intensifiers_and_dampeners_work_in_spanish() -> None:
    plain = analyse_text("estoy triste").intensity
    assert analyse_text("estoy muy triste").intensity > plain
    assert analyse_text("estoy un poco triste").intensity < plain


def test_inflected_forms_meet() -> None:
    for text in ("estoy contento", "estamos contentas", "je suis heureuse", "sono felici"):
        assert _family(analyse_text(text)) == "joy", text
    assert analyse_text("ich bin traurig").primary == analyse_text("traurige Tage").primary


def test_text_typed_without_accents_still_reads() -> None:
    affect = analyse_text("estoy muy ansiosa por el examen de manana")
    assert affect.language == "es"
    assert affect.primary == "anxiety"
    assert analyse_text("estou de coracao partido").primary == "grief"


def test_evidence_keeps_the_accents_as_written() -> None:
    assert "Qué rabia" in analyse_text("¡Qué rabia!").evidence


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("I feel so triste today but whatever", None),
        ("I am so sad today", "sadness"),
        ("My rage is boiling", None),
        ("I dare you to stop me", None),
        ("It is a sin to be this happy", None),
        ("Come here and hug me", None),
        ("I feel fine", None),
        ("The pain will not stop", None),
        ("a short piano piece please", None),
        ("Festival!", None),
        ("the deadline is tomorrow", None),
        ("hospital again", None),
        ("nana's cancer is in remission", None),
    ],
)
def test_english_and_mixed_text_still_reads_english(text: str, family: str | None) -> None:
    affect = analyse_text(text)
    assert affect.language == "en", text
    if family is not None:
        assert _family(affect) == family


def test_the_english_corpus_is_told_english() -> None:
    corpus = Path(__file__).parent / "data" / "affect_corpus.jsonl"
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line]
    dev = [str(row["text"]) for row in rows if row.get("split", "dev") == "dev"]
    assert len(dev) >= 300
    assert [text for text in dev if language.detect(text) != "en"] == []


def test_the_language_round_trips_through_the_affect_dict() -> None:
    affect = analyse_text("Tengo miedo")
    data = affect.to_dict()
    assert data["language"] == "es"
    assert Affect.from_dict(data) == affect
    del data["language"]
    assert Affect.from_dict(data).language == "en"


def test_a_neutral_text_reports_its_language() -> None:
    affect = analyse_text("Mañana voy a la oficina en tren.")
    assert affect.primary == "neutral"
    assert affect.language == "es"


def test_inflection_groups_are_written_out() -> None:
    assert language.expand_forms("content(o|a|os|as)") == [
        "contento",
        "contenta",
        "contentos",
        "contentas",
    ]
    assert language.expand_forms("triste(|s)") == ["triste", "tristes"]
    assert language.expand_forms("sol(o|a) y (muy|tan) triste") == [
        "solo y muy triste",
        "solo y tan triste",
        "sola y muy triste",
        "sola y tan triste",
    ]


def test_the_language_model_is_not_loaded_by_import_or_by_english_text() -> None:
    code = (
        "import sys; import kmidi.affect as a; a.analyse_text('I am so sad today');"
        "print('py3langid' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("Lloraba cada noche.", "sadness"),
        ("Je pleurais tous les soirs.", "sadness"),
        ("Chorava todas as noites.", "sadness"),
        ("Piangevo ogni sera.", "sadness"),
        ("Ich bin total verzweifelt.", "sadness"),
        ("Estaba asustadísima.", "fear"),
        ("Ero spaventatissima.", "fear"),
    ],
)
def test_a_word_beginning_reads_forms_no_term_lists(text: str, family: str) -> None:
    assert _family(analyse_text(text)) == family


def test_a_word_beginning_never_overrides_a_word_the_lexicon_knows() -> None:
    # "aterrizó" (landed) starts like "aterrorizado" but no beginning is that short.
    assert analyse_text("Mi amigo aterrizó en Madrid.", reader=None).primary == "neutral"
    # The lexicon's beginnings (to the trained reader, meeting a friend is a small joy).
    assert analyse_text("Ich habe meinen Freund getroffen.", reader=None).primary == "neutral"


@pytest.mark.xfail(
    strict=True,
    reason="the arbiter follows the eleventh session's reader to a feeling (tenderness, "
    "flagged unsure at 0.27) where the lexicon reads none",
)
def test_a_friend_landing_reads_as_no_feeling() -> None:
    assert analyse_text("Mi amigo aterrizó en Madrid.").primary == "neutral"
