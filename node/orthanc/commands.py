"""``lipo-node orthanc status|send STUDY|results|resend JOB|pull`` for the admin."""

from __future__ import annotations

import argparse
import json
import threading
from dataclasses import asdict


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("orthanc", help="admin commands against the site's Orthanc")
    osub = parser.add_subparsers(dest="orthanc_cmd", metavar="ACTION", required=True)
    p = osub.add_parser("status", help="Orthanc reachable? version, counts, C-ECHO to this node")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_status)
    p = osub.add_parser("send", help="ask Orthanc to C-STORE a study (UID or Orthanc ID) to this node")
    p.add_argument("study")
    p.set_defaults(func=_send)
    p = osub.add_parser("results", help="list the SEG/SR series this node has put into Orthanc")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_results)
    p = osub.add_parser("resend", help="queue a job's SEG and SR for delivery again")
    p.add_argument("job_id")
    p.set_defaults(func=_resend)
    p = osub.add_parser("pull", help="run pull mode in the foreground (poll Orthanc /changes)")
    p.add_argument("--once", action="store_true", help="one poll, then exit")
    p.set_defaults(func=_pull)


def _client(args: argparse.Namespace):
    from node.config import load_config
    from node.orthanc.client import make_client

    cfg = load_config(args.config)
    return cfg, make_client(cfg.orthanc)


def _status(args: argparse.Namespace) -> int:
    from node.orthanc.admin import status

    cfg, client = _client(args)
    st = status(client, cfg.orthanc)
    if args.json:
        print(json.dumps(asdict(st), indent=2))
    else:
        echo = {True: "ok", False: "FAILED", None: "not configured"}[st.echo_ok]
        print(f"Orthanc {st.version} '{st.name}' AET {st.dicom_aet} at {st.url}")
        print(f"  {st.studies} studies, {st.instances} instances")
        print(f"  modality '{st.node_modality}' (this node): C-ECHO {echo}")
        if st.routing is None:
            print("  auto-routing plugin: not loaded")
        else:
            r = st.routing
            print(f"  auto-routing: {r.forwarded} studies forwarded since Orthanc started, "
                  f"{len(r.pending)} waiting/pending, {r.failed_attempts} failed attempts")
            for p in r.pending:
                print(f"    {p.study} {p.state} attempts={p.attempts} next in {p.next_in_s:.0f} s"
                      + (f"  last error: {p.error}" if p.error else ""))
    return 0 if st.echo_ok is not False else 1


def _send(args: argparse.Namespace) -> int:
    from node.orthanc.admin import send_study

    cfg, client = _client(args)
    orthanc_id = send_study(client, cfg.orthanc, args.study)
    print(f"sent Orthanc study {orthanc_id} to modality '{cfg.orthanc.node_modality}'")
    return 0


def _results(args: argparse.Namespace) -> int:
    from node.orthanc.admin import result_manufacturer, results

    cfg, client = _client(args)
    rows = results(client, result_manufacturer(cfg.report.templates_file))
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        for r in rows:
            print(f"{r.modality:4} {r.study_uid}  {r.description}")
    return 0


def _resend(args: argparse.Namespace) -> int:
    from node.config import load_config
    from node.send.stage import resend_job

    cfg = load_config(args.config)
    items = resend_job(cfg, args.job_id)
    print(f"job {args.job_id}: {items} outbox item(s) queued again")
    return 0


def _pull(args: argparse.Namespace) -> int:
    from node.orthanc.pull import OrthancPuller
    from node.store import Store

    cfg, client = _client(args)
    store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
    puller = OrthancPuller(cfg.orthanc, store, cfg.db_path, client)
    if args.once:
        for pulled in puller.poll_once():
            n, s = pulled.instances, pulled.series
            print(f"pulled {n} instances ({s} series) of {pulled.orthanc_study_id}")
        return 0
    stop = threading.Event()
    try:
        puller.run(stop)
    except KeyboardInterrupt:
        stop.set()
    return 0
