"""The Storage SCP: build the pynetdicom AE from ``ReceiveConfig`` and start it.

Accepted presentation contexts: Verification (C-ECHO) and the configured storage SOP classes
(PS3.4 B.5), each with every transfer syntax whose pixel data pydicom can decode with the
installed plugins (asked from pydicom itself, so installing a plugin widens the list and a
missing one never lets through data we cannot read). A SOP class not listed is refused at
negotiation (abstract-syntax-not-supported, PS3.8 9.3.3.2).
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable

import pydicom.uid
from pydicom.pixels import get_decoder
from pynetdicom import AE, evt, sop_class

from node.receive import handlers
from node.receive.config import ReceiveConfig, TlsConfig
from node.receive.policy import AssociationPolicy
from node.receive.transport import HARD_PDU_CAP, GuardedServer
from node.receive.workers import WorkerPool, WorkerSpec, per_worker_limit, worker_count
from node.store import InstanceRecord, Store

log = logging.getLogger(__name__)


def decodable_transfer_syntaxes() -> list[str]:
    """Transfer syntaxes pydicom can decode here (native, deflate, JPEG, JPEG-LS, J2K, RLE)."""
    found = []
    for ts in pydicom.uid.AllTransferSyntaxes:
        try:
            if get_decoder(ts).is_available:
                found.append(str(ts))
        except NotImplementedError:
            continue
    # the default (implicit LE, PS3.5 10.1) first: some SCUs pick the first accepted
    found.sort(key=lambda uid: uid != pydicom.uid.ImplicitVRLittleEndian)
    return found


def tls_context(cfg: TlsConfig) -> ssl.SSLContext:
    """Server context for DICOM TLS (PS3.15 B.1/B.9): TLS 1.2+, client cert when a CA is set."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile=cfg.cert_file, keyfile=cfg.key_file)
    if cfg.ca_file is not None:
        ctx.load_verify_locations(cafile=cfg.ca_file)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def build_ae(cfg: ReceiveConfig) -> AE:
    ae = AE(ae_title=cfg.ae_title)
    ae.maximum_associations = cfg.max_associations
    ae.acse_timeout = cfg.acse_timeout_s
    ae.dimse_timeout = cfg.dimse_timeout_s
    ae.network_timeout = cfg.network_timeout_s
    ae.maximum_pdu_size = cfg.max_pdu_bytes
    ae.require_called_aet = cfg.require_called_ae
    syntaxes = decodable_transfer_syntaxes()
    ae.add_supported_context(sop_class.Verification)
    for keyword in cfg.sop_classes:
        ae.add_supported_context(getattr(sop_class, keyword), syntaxes)
    return ae


def _serve(ae: AE, cfg: ReceiveConfig, bound: list, ssl_ctx: ssl.SSLContext | None,
           ctx: handlers.ReceiveContext,
           pool: WorkerPool | None = None) -> GuardedServer:
    """``AE.start_server(block=False)`` with our :class:`GuardedServer` (pynetdicom's public
    ``make_server(server_class=...)``), served from a daemon thread."""
    server = ae.make_server((cfg.host, cfg.port), ssl_context=ssl_ctx, evt_handlers=bound,
                            server_class=GuardedServer)
    _configure(server, cfg)
    server.on_refused = lambda refusal: handlers.record_refusal(refusal, ctx)
    server.pool = pool
    thread = threading.Thread(target=server.serve_forever, name="lipo-node-scp-accept", daemon=True)
    thread.start()
    ae._servers.append(server)  # so ae.shutdown() and server.shutdown() work as upstream's
    return server


def _bound_handlers(ctx: handlers.ReceiveContext) -> list:
    return [
        (evt.EVT_REQUESTED, handlers.handle_requested, [ctx]),
        (evt.EVT_ACCEPTED, handlers.handle_accepted, [ctx]),
        (evt.EVT_REJECTED, handlers.handle_rejected, [ctx]),
        (evt.EVT_RELEASED, handlers.handle_released, [ctx]),
        (evt.EVT_CONN_CLOSE, handlers.handle_conn_close, [ctx]),
        (evt.EVT_C_STORE, handlers.handle_store, [ctx]),
    ]


def _configure(server: GuardedServer, cfg: ReceiveConfig) -> None:
    server.pdu_limit = cfg.max_pdu_bytes or HARD_PDU_CAP
    server.read_timeout_s = cfg.network_timeout_s
    server.request_deadline_s = cfg.association_request_timeout_s
    server.max_pending = cfg.max_pending_connections


def build_worker_server(cfg: ReceiveConfig, store: Store, max_associations: int,
                        on_stored: Callable[[InstanceRecord], None],
                        on_closed: Callable[[], None]) -> GuardedServer:
    """The AE of an ingest process (node.receive.workers): same contexts, policy and handlers
    as the main process's, fed with connections by :meth:`GuardedServer.adopt` instead of
    listening (its own socket, bound to an ephemeral loopback port by pynetdicom, is closed)."""
    ctx = handlers.ReceiveContext(store=store, policy=AssociationPolicy(cfg), on_stored=on_stored)
    bound = [*_bound_handlers(ctx), (evt.EVT_CONN_CLOSE, lambda _e: on_closed())]
    ae = build_ae(cfg)
    ae.maximum_associations = max_associations
    server = ae.make_server(("127.0.0.1", 0), evt_handlers=bound, server_class=GuardedServer)
    server.socket.close()
    _configure(server, cfg)
    server.on_refused = lambda refusal: handlers.record_refusal(refusal, ctx)
    server.on_adopt_failed = on_closed
    return server


def _start_workers(cfg: ReceiveConfig, store: Store,
                   on_stored: Callable[[InstanceRecord], None] | None) -> WorkerPool | None:
    """Started (and waited for) before the port is bound: a sender that connects finds the
    ingest processes ready, not importing."""
    n = worker_count(cfg.ingest_processes)
    if n <= 0:
        return None
    spec = WorkerSpec(receive=cfg, db_path=store.db_path, spool_dir=store.spool.root,
                      store=store.cfg, log_level=logging.getLogger().getEffectiveLevel(),
                      max_associations=per_worker_limit(cfg.max_associations, n))
    pool = WorkerPool(spec, n, on_stored=on_stored)
    pool.start()
    log.info("%d ingest processes serve plain-TCP associations", n)
    return pool


def start_scp(
    cfg: ReceiveConfig,
    store: Store,
    on_stored: Callable[[InstanceRecord], None] | None = None,
) -> GuardedServer:
    """Start the SCP in background threads; stop it with ``server.shutdown()``.

    ``on_stored`` is called (in the association's thread, after the instance is durable and
    indexed, before the C-STORE-RSP) for each new instance; not for duplicates. With ingest
    processes (``receive.ingest_processes``) it is called in the main process with ``None``
    after a worker stored an instance (it is a wake-up, not a record).
    """
    ctx = handlers.ReceiveContext(store=store, policy=AssociationPolicy(cfg), on_stored=on_stored)
    bound = _bound_handlers(ctx)
    removed, dropped = store.spool.remove_partials(), store.recover()
    fixed = store.reconcile()
    if removed or dropped or fixed.orphans_indexed or fixed.orphans_removed:
        log.warning("crash recovery: removed %d partial spool files, %d unbacked index rows; "
                    "indexed %d and removed %d spool files without an index row",
                    removed, dropped, fixed.orphans_indexed, fixed.orphans_removed)
    if fixed.interrupted_associations:
        log.warning("crash recovery: %d associations were open when the node stopped",
                    fixed.interrupted_associations)
    ssl_ctx = tls_context(cfg.tls) if cfg.tls is not None else None
    pool = _start_workers(cfg, store, on_stored)
    try:
        server = _serve(build_ae(cfg), cfg, bound, ssl_ctx, ctx, pool)
    except BaseException:
        if pool is not None:
            pool.stop()
        raise
    log.info("SCP %s listening on %s:%d%s", cfg.ae_title, cfg.host, server.server_address[1],
             " (TLS)" if ssl_ctx else "")
    return server
