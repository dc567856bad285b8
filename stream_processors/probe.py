"""``python -m stream_processors.probe live|ready``: the worker's health, as an exit code.

For container probes: faust's web server also serves table views (conversation state),
so it stays on 127.0.0.1 and the probe runs inside the container. Exit 0 when the page
answers 200, 1 otherwise; the page's JSON (or the error) goes to stdout.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request

from stream_processors.config import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", choices=("live", "ready"))
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds (default 3)")
    args = parser.parse_args(argv)
    port = get_settings().faust_web_port
    url = f"http://127.0.0.1:{port}/{args.page}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    try:
        with opener.open(url, timeout=args.timeout) as response:
            print(response.read().decode("utf-8", "replace"))
            return 0
    except urllib.error.HTTPError as error:  # 503 while rebalancing or recovering
        print(error.read().decode("utf-8", "replace"))
    except OSError as error:
        print(f"{url}: {error}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
