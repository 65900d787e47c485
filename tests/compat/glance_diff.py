"""Drive glint and a reference Glance with the same requests and print where their answers differ.

A developer tool, not collected by pytest. Start the reference Glance
(../shared/tools/glance-reference) and glint, then:

    python -m tests.compat.glance_diff --glance http://127.0.0.1:9191 --glint http://127.0.0.1:9393 [-k name]

Each scenario runs on both sides with fresh project names; image ids are
replaced by symbols in order of appearance and timestamps by ``<time>``, so
only real differences remain. Exit status 1 when any scenario differs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from collections.abc import Callable
from typing import Any

import requests

from tests.compat.scenarios import SCENARIOS

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?")
# Compared headers. Not compared on purpose: OpenStack-image-store-ids (Glance lists its internal
# os_glance_* stores there, which /v2/info/stores hides; glint lists only real stores) and
# OpenStack-image-import-methods (until import exists).
HEADERS_KEPT = ("Location", "Allow", "Accept-Patch", "Content-Range", "Content-MD5", "Content-Type")


class Side:
    """One server, with a client per (project, roles)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.run = uuid.uuid4().hex[:6]
        self.log: list[tuple[str, Any]] = []
        self.ids: dict[str, str] = {}

    def project(self, name: str) -> str:
        return f"{name}-{self.run}"

    def call(self, label: str, method: str, path: str, *, project: str = "p1", roles: str = "member,reader",
             json_body: Any = None, data: Any = None, headers: dict[str, str] | None = None,
             record: bool = True) -> requests.Response:  # fmt: skip
        send = {"X-Identity-Status": "Confirmed", "X-User-Id": f"user-{project}", "X-Roles": roles,
                "X-Project-Id": self.project(project), "Accept": "application/json"}  # fmt: skip
        if json_body is not None:
            send["Content-Type"] = "application/json"
            data = json.dumps(json_body)
        send.update(headers or {})
        response = requests.request(method, self.url + path.replace("{run}", self.run), data=data, headers=send)
        if record:
            self.log.append((label, self._observe(response)))
        return response

    def _observe(self, response: requests.Response) -> dict[str, Any]:
        try:
            body: Any = response.json()
        except ValueError:
            body = (
                response.text[:300]
                if "octet-stream" not in response.headers.get("Content-Type", "")
                else len(response.content)
            )
        headers = {name: response.headers[name] for name in HEADERS_KEPT if name in response.headers}
        return {"status": response.status_code, "headers": self._mask(headers), "body": self._mask(body)}

    def _mask(self, value: Any) -> Any:
        text = json.dumps(_sorted_tags(value), sort_keys=True)
        text = text.replace(self.url, "<url>").replace(self.run, "<run>")
        text = TIME.sub("<time>", text)

        def symbol(match: re.Match[str]) -> str:
            return self.ids.setdefault(match.group(0).lower(), f"<id{len(self.ids)}>")

        return json.loads(UUID.sub(symbol, text))


# Differences kept on purpose: (scenario, observation) -> why glint answers otherwise.
KNOWN = {
    ("create_errors", "list body"): "Glance answers 500 to a JSON list; glint says 400",
    ("patch_v21", "replace stores"): "Glance treats 'stores' as a custom property; glint keeps it read-only",
    (
        "list_paging_and_sorting",
        "list ?sort_key=name&sort_key=size&sort_dir=asc&sort_dir=desc",
    ): "Glance's 'first' link keeps only the last of repeated parameters",
    (
        "list_paging_and_sorting",
        "list ?sort_key=name&sort_key=size&sort_dir=asc",
    ): "Glance's 'first' link keeps only the last of repeated parameters",
    ("list_filters", "filter ?tag=x&tag=y"): "Glance's 'first' link keeps only the last of repeated parameters",
    ("list_filters", "filter ?owner=nobody"): "Glance's 'first' link keeps only the last of repeated parameters",
    (
        "sorting_with_nulls_through_pages",
        "sort=size:asc,name:desc page 1",
    ): "Glance's paging loses images whose sort key is null (its marker comparison skips NULLs); glint keeps them",
    ("methods_and_paths", "HEAD image"): "a 405 to HEAD: Glance says text/html, glint follows the Accept header",
    ("methods_and_paths", "HEAD file"): "a 405 to HEAD: Glance says text/html, glint follows the Accept header",
    ("sorting_with_nulls_through_pages", "sort=size:asc,name:desc page 2"): "the same NULL paging bug, one page on",
    ("members", "add int"): "Glance echoes a numeric member id as a number once; glint stores and shows a string",
    ("location_api", "service adds a URL no store holds"): "Glance accepts (202) and fails the task with 'Internal "
    "Error'; glint refuses at once: 400 'no configured store holds ...'",
    ("location_api", "put locations"): "Glance's Allow header leaves out GET, which it serves; glint lists both",
    **{
        ("location_api", f"service adds {body}"): "the same 400 and first line; the schema dumped after it words "
        "its descriptions in glint's own prose"
        for body in (
            "{}",
            '{"url": 5}',
            '{"url": "http://127.0.0.1:8765/img.raw", "validation_data": {"os_hash_algo": "sha512"}}',
            '{"url": "http://127.0.0.1:8765/img.raw", "validation_data": {"checksum": "abc"}}',
        )
    },
}


def _sorted_tags(value: Any) -> Any:
    """Tags are a set; Glance returns them in no particular order."""
    if isinstance(value, dict):
        return {k: sorted(v) if k == "tags" and isinstance(v, list) else _sorted_tags(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sorted_tags(item) for item in value]
    return value


def _brief(observation: dict[str, Any]) -> str:
    body = observation["body"]
    text = body.get("message", "") if isinstance(body, dict) and "message" in body else json.dumps(body)
    return f"{observation['status']} {text[:160]!r}"


def diff(scenario: str, glance: list[tuple[str, Any]], glint: list[tuple[str, Any]], brief: bool = False) -> list[str]:
    lines = []
    for (label, want), (_, got) in zip(glance, glint, strict=False):
        if want == got or (scenario, label) in KNOWN:
            continue
        if brief:
            lines.append(f"  [{label}]\n    glance {_brief(want)}\n    glint  {_brief(got)}")
            continue
        lines.append(f"  [{label}]")
        for key in ("status", "headers", "body"):
            if want[key] != got[key]:
                lines.append(f"    {key}: glance={json.dumps(want[key])[:700]}")
                lines.append(f"    {' ' * len(key)}  glint ={json.dumps(got[key])[:700]}")
    if len(glance) != len(glint):
        lines.append(f"  different number of observations: {len(glance)} vs {len(glint)}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--glance", default="http://127.0.0.1:9191")
    parser.add_argument("--glint", default="http://127.0.0.1:9393")
    parser.add_argument("-k", default="", help="run scenarios whose name contains this")
    parser.add_argument("-b", "--brief", action="store_true", help="status and message only")
    args = parser.parse_args()
    failed = 0
    scenarios: list[tuple[str, Callable[[Side], None]]] = [(n, f) for n, f in SCENARIOS if args.k in n]
    for name, scenario in scenarios:
        sides = [Side(args.glance), Side(args.glint)]
        errors = []
        for side in sides:
            try:
                scenario(side)
            except Exception as exc:  # a scenario step failed outright on this side
                errors.append(f"{side.url}: {type(exc).__name__}: {exc}")
        lines = diff(name, sides[0].log, sides[1].log, args.brief) + [f"  error {e}" for e in errors]
        print(f"{'DIFF' if lines else 'same'} {name} ({len(sides[0].log)} observations)")
        if lines:
            failed += 1
            print("\n".join(lines))
    print(f"{failed} of {len(scenarios)} scenarios differ")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
