"""Serve the TLC months a grader staged to a learner's kernel, which has no network.

Learners read the homework's months the way the course taught them: ``!wget <TLC URL>``
then the file name, ``curl -o``, ``urllib.request.urlretrieve`` or
``pandas.read_parquet(<TLC URL>)`` directly. A graded kernel runs with the network cut, so
the grader (:mod:`mlops_kit.homework.staging`) links the key's data files into the
kernel's folders and puts this module in front of the network:

* :func:`install` (run at interpreter start by a one-line ``sitecustomize`` on the
  kernel's ``PYTHONPATH``) installs a :mod:`urllib.request` opener that answers a TLC URL
  of a staged month with the staged file, so ``pandas.read_parquet(url)`` reads it
  unchanged. Any other URL fails with a message naming what the grader staged;
* ``python -m mlops_kit_tlc_mirror wget|curl ARGS`` (the ``wget`` and ``curl`` the
  grader puts first on the kernel's ``PATH``) copies a staged month where the command
  would have saved it, or says it is already there.

The staged months come from the ``MLOPS_KIT_TLC_MIRROR`` environment variable: a JSON
object ``{"green_tripdata_2021-01.parquet": "/path/to/the/file", ...}``.

This file imports nothing from the kit, nor anything heavy: the grader copies it next to
the ``sitecustomize`` it writes, and every Python process of the kernel loads it.
"""

from __future__ import annotations

import email.message
import json
import os
import re
import shutil
import sys
import urllib.error
import urllib.request
import urllib.response
from pathlib import Path

#: the environment variable holding ``{file name: path}`` of the staged months
MIRROR_ENV = "MLOPS_KIT_TLC_MIRROR"

#: the hosts the course and TLC have published the trip records from, over the years
TLC_URL = re.compile(
    r"^https?://(?:d37ci6vzurychx\.cloudfront\.net/trip-data"
    r"|nyc-tlc\.s3\.amazonaws\.com/trip(?:\+|%20| )data"
    r"|s3\.amazonaws\.com/nyc-tlc/trip(?:\+|%20| )data)"
    r"/(?P<name>(?:yellow|green|fhv|fhvhv)_tripdata_\d{4}-\d{2}\.parquet)$"
)


def staged() -> dict[str, str]:
    """Return ``{TLC file name: path}`` of the months the grader staged (may be empty)."""
    try:
        found = json.loads(os.environ.get(MIRROR_ENV) or "{}")
    except json.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def tlc_name(url: str) -> str | None:
    """Return the TLC file name a URL points to, or None for any other URL."""
    match = TLC_URL.match(str(url).strip())
    return match.group("name") if match else None


def what_was_staged() -> str:
    """Return one sentence naming the staged months (for error messages)."""
    names = sorted(staged())
    if not names:
        return "the grader staged no data file"
    return (
        f"the grader staged {', '.join(names)} (in the working folder, ./data/ and ../data/, "
        "and for their TLC URLs)"
    )


def no_network_message(url: str) -> str:
    """Return the message for a URL the grader cannot serve."""
    return (
        f"no network while grading: {url} cannot be downloaded; {what_was_staged()}. "
        "Read one of these months, by its TLC URL or its file name."
    )


class _MirrorHandler(urllib.request.BaseHandler):
    """Answer ``http(s)`` requests for staged TLC months with the staged file."""

    handler_order = 100  # before the HTTP(S) handlers

    def _serve(self, req: urllib.request.Request):
        url = req.full_url
        path = staged().get(tlc_name(url) or "")
        if path is None:
            if tlc_name(url):
                raise urllib.error.URLError(no_network_message(url))
            return None  # not a TLC URL: the normal handlers try (and meet the cut network)
        headers = email.message.Message()
        headers["Content-Type"] = "application/octet-stream"
        headers["Content-Length"] = str(os.path.getsize(path))
        response = urllib.response.addinfourl(open(path, "rb"), headers, url, 200)  # noqa: SIM115
        response.msg = "OK"  # what HTTPErrorProcessor reads
        return response

    http_open = _serve
    https_open = _serve


class _Opener(urllib.request.OpenerDirector):
    """An opener whose network failures name what the grader staged."""

    def open(self, fullurl, data=None, timeout=None, **kw):  # noqa: D102 - urllib's API
        try:
            if timeout is None:
                return super().open(fullurl, data, **kw)
            return super().open(fullurl, data, timeout, **kw)
        except urllib.error.URLError as exc:
            url = fullurl if isinstance(fullurl, str) else fullurl.full_url
            if "no network while grading" in str(exc.reason):
                raise
            raise urllib.error.URLError(f"{exc.reason}; {no_network_message(url)}") from exc


def install() -> None:
    """Install the opener that serves the staged months (a no-op when none are staged)."""
    if not staged():
        return
    opener = urllib.request.build_opener(_MirrorHandler)
    opener.__class__ = _Opener
    urllib.request.install_opener(opener)


# --------------------------------------------------------------------------- wget, curl


def _deliver(name: str, target: Path, out=None) -> None:
    """Put the staged month ``name`` at ``target`` (or say it is already there)."""
    out = out or sys.stdout
    source = Path(staged()[name])
    if target.exists() and target.resolve() == source.resolve():
        print(
            f"{target}: already there, staged by the grader (no download while grading)",
            file=out,
        )
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    print(f"{target}: copied from the grader's staged {name} (no download while grading)", file=out)


def _fail(program: str, url: str, code: int) -> int:
    print(f"{program}: {no_network_message(url)}", file=sys.stderr)
    return code


def wget(argv: list[str]) -> int:
    """Do what ``wget [-O FILE] [-P DIR] URL...`` does, for staged TLC months only."""
    output, prefix, urls = None, ".", []
    args = iter(argv)
    for arg in args:
        if arg in ("-O", "--output-document"):
            output = next(args, None)
        elif arg.startswith("--output-document="):
            output = arg.split("=", 1)[1]
        elif arg in ("-P", "--directory-prefix"):
            prefix = next(args, ".")
        elif arg.startswith("--directory-prefix="):
            prefix = arg.split("=", 1)[1]
        elif arg.startswith("-O") and len(arg) > 2:
            output = arg[2:]
        elif arg.startswith("-P") and len(arg) > 2:
            prefix = arg[2:]
        elif not arg.startswith("-"):
            urls.append(arg)

    def target(name: str) -> Path | None:
        if output == "-":
            return None
        return Path(output) if output else Path(prefix) / name

    return _fetch_all("wget", urls, 4, target)  # 4: wget's "network failure"


def _fetch_all(program: str, urls: list[str], fail: int, target_of) -> int:
    """Deliver each staged URL where ``target_of(name)`` says (None: standard output).

    ``target_of`` may also return an exit status (an int) for a target it refuses.
    """
    status = 0
    for url in urls:
        name = tlc_name(url)
        if name not in staged():
            status = _fail(program, url, fail)
            continue
        target = target_of(name)
        if isinstance(target, int):
            status = target
        elif target is None:
            with open(staged()[name], "rb") as handle:
                shutil.copyfileobj(handle, sys.stdout.buffer)
        else:
            _deliver(name, target, out=sys.stderr if program == "curl" else None)
    return status


def curl(argv: list[str]) -> int:
    """Do what ``curl [-o FILE | -O] URL...`` does, for staged TLC months only."""
    takes_value = {"-H", "-A", "-u", "-X", "-e", "-m", "--retry", "--max-time", "--header"}
    output, remote_name, create_dirs, urls = None, False, False, []
    args = iter(argv)
    for arg in args:
        if arg in ("-o", "--output"):
            output = next(args, None)
        elif arg in ("-O", "--remote-name"):
            remote_name = True
        elif arg == "--create-dirs":
            create_dirs = True
        elif arg in takes_value:
            next(args, None)
        elif not arg.startswith("-"):
            urls.append(arg)

    def target(name: str) -> Path | int | None:
        if output is None and not remote_name:
            return None  # curl URL > file
        path = Path(output) if output else Path(name)
        if not create_dirs and not path.parent.is_dir():
            print(f"curl: (23) cannot create {path}: no folder {path.parent}", file=sys.stderr)
            return 23
        return path

    return _fetch_all("curl", urls, 6, target)  # 6: curl's "could not resolve host"


def main(argv: list[str] | None = None) -> int:
    """Run ``wget`` or ``curl`` (the first argument) on the rest of the arguments."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("wget", "curl"):
        print("usage: python -m mlops_kit_tlc_mirror wget|curl ARGS", file=sys.stderr)
        return 2
    program = wget if argv[0] == "wget" else curl
    return program(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
