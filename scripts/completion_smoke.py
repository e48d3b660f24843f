"""One chat completion against an OpenAI-compatible server; exit 1 unless it answers.

`make test-integration` runs it before the tests: a server can list its models and still die
on its first completion (a build for instructions the CPU lacks), which would otherwise show
up as every test failing with a dropped connection.
"""

from __future__ import annotations

import json
import sys
import urllib.request


def main(argv: list[str]) -> int:
    base_url, model = argv[1].rstrip("/"), argv[2]
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Say OK."}],
        "max_tokens": 8,
        "temperature": 0.0,
    }
    req = urllib.request.Request(
        f"{base_url}/chat/completions",
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            data = json.loads(resp.read())
        text = data["choices"][0]["message"]["content"]
    except Exception as exc:  # any failure is the answer: the server cannot complete
        sys.stderr.write(f"completion smoke check failed: {type(exc).__name__}: {exc}\n")
        return 1
    sys.stdout.write(f"completion smoke check: {model} answered {text!r}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
