// Parse and validate an AsyncAPI document with the official parser (@asyncapi/parser):
// JSON Schema of the spec, $ref resolution (relative files included) and its Spectral rules.
//   node validate.cjs NODE_MODULES_DIR DOCUMENT...
// Prints one JSON object per document, one a line: the parser's diagnostics and, when the
// document parsed, what it
// resolved for every channel (address, messages, payload properties, key and header names),
// so a caller can check the parser really read the referenced payload schemas.
"use strict";
const path = require("node:path");

async function main() {
  const [modules, ...files] = process.argv.slice(2);
  const { Parser, fromFile } = require(path.join(path.resolve(modules), "@asyncapi/parser"));
  const parser = new Parser();
  for (const file of files) {
    process.stdout.write(JSON.stringify(await report(parser, fromFile, file)) + "\n");
  }
}

async function report(parser, fromFile, file) {
  const { document, diagnostics } = await fromFile(parser, path.resolve(file)).parse();
  const result = {
    diagnostics: diagnostics.map((d) => ({
      severity: d.severity, // 0 error, 1 warning, 2 information, 3 hint
      code: d.code,
      message: d.message,
      path: d.path.join("/"),
    })),
    channels: null,
  };
  if (document) {
    result.channels = {};
    for (const channel of document.channels().all()) {
      const messages = {};
      for (const message of channel.messages().all()) {
        const payload = message.payload();
        const headers = message.headers();
        const kafka = message.bindings().get("kafka");
        messages[message.id()] = {
          name: message.name(),
          contentType: message.contentType(),
          schemaFormat: message.schemaFormat(),
          payloadProperties: payload ? Object.keys(payload.properties() || {}).sort() : null,
          payloadRequired: payload ? (payload.required() || []).slice().sort() : null,
          schemaConst: payload && payload.properties().schema ? payload.properties().schema.const() : null,
          headerNames: headers ? Object.keys(headers.properties() || {}).sort() : null,
          keyPattern: kafka && kafka.value().key ? kafka.value().key.pattern || null : null,
        };
      }
      result.channels[channel.id()] = {
        address: channel.address(),
        messages,
        operations: channel.operations().all().map((op) => `${op.action()} ${op.id()}`).sort(),
      };
    }
  }
  return result;
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
  process.exit(2);
});
