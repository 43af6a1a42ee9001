"""The whole labfolio stack on one machine: moto server (S3, SQS), the template's resources, migrations, the
functions in their own processes, the gateway on http://127.0.0.1:8000, the SQS poller and the scheduler.
`python -m local` (what `make dev` runs) serves it in the foreground: local.serve."""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.aws_resources import LocalResources
from local.demo import ensure_demo_account, ensure_demo_portfolio, latest_analysis_status
from local.gateway import create_gateway
from local.headers import security_headers
from local.model import ACCOUNT_ID, REGION, StackModel, load_model
from local.moto import MotoServer, aws_environment
from local.poller import SqsPoller
from local.runtime import FunctionPool
from local.scheduler import Scheduler
from local.template import ROOT

log = logging.getLogger("labfolio.local")

_PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "HOME", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class LocalConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    moto_port: int = 4566  # 0: any free port
    # The default port may be taken (another stack on this machine): then moto takes a free one and says so. A port
    # asked for (LABFOLIO_MOTO_PORT) is kept or the stack refuses to start.
    moto_port_fallback: bool = False
    data_dir: Path = ROOT / ".local"
    database_url: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    max_instances: int = 4  # per function; 2 left the CPUs idle while instances waited on the database (bench/load.py)
    run_poller: bool = True
    run_scheduler: bool = True
    warm: bool = True
    # The demo account's demo portfolio, uploaded once factor_update's first run has loaded the factor data (only
    # with the scheduler on; tests call LocalStack.ensure_demo_portfolio themselves).
    demo_portfolio: bool = True

    @classmethod
    def from_env(cls) -> LocalConfig:
        env = os.environ
        return cls(
            host=env.get("LABFOLIO_HOST", "127.0.0.1"),
            port=int(env.get("LABFOLIO_PORT", "8000")),
            moto_port=int(env.get("LABFOLIO_MOTO_PORT", "4566")),
            moto_port_fallback="LABFOLIO_MOTO_PORT" not in env,
            data_dir=Path(env.get("LABFOLIO_DATA_DIR", str(ROOT / ".local"))).resolve(),
            database_url=env.get("DATABASE_URL") or None,
            max_instances=int(env.get("LABFOLIO_MAX_INSTANCES", str(LocalConfig.max_instances))),
            # LABFOLIO_MARKET_DATA=yfinance: real prices instead of the offline demo data (needs the network)
            overrides={"MarketDataProvider": env["LABFOLIO_MARKET_DATA"]} if env.get("LABFOLIO_MARKET_DATA") else {},
        )

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'labfolio.db'}"


class LocalStack:
    def __init__(self, config: LocalConfig) -> None:
        self.config = config
        self.moto = MotoServer(port=config.moto_port, host="127.0.0.1", fallback=config.moto_port_fallback)
        self.model: StackModel | None = None
        self.resources: LocalResources | None = None
        self.pools: dict[str, FunctionPool] = {}
        self.pollers: list[SqsPoller] = []
        self.schedulers: list[Scheduler] = []
        self._server: Any = None
        self._server_thread: threading.Thread | None = None
        self.demo_password: str | None = None
        self._stopping = threading.Event()
        self._began = time.perf_counter()
        self._demo_lock = threading.Lock()
        self._demo_ensured = False
        self._warming: list[threading.Thread] = []  # one per HTTP function: its first instance starting
        self._socket: socket.socket | None = None  # the gateway's, bound before the stack is built when port is 0

    @property
    def port(self) -> int:
        """The gateway's port: the configured one, or the one the OS gave when that is 0."""
        return self._socket.getsockname()[1] if self._socket is not None else self.config.port

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LocalStack:
        self._began = started = time.perf_counter()
        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.moto.start()
            log.info("moto server at %s", self.moto.endpoint)
            if cfg.port == 0:  # bind now: the bucket's CORS rule names the real origin, not port 0
                self._socket = socket.create_server((cfg.host, 0))
            origin = {"FrontendOrigin": f"http://{cfg.host}:{self.port}"}  # the bucket's CORS: the gateway's pages
            self.model = load_model({"DatabaseUrl": cfg.effective_database_url, **origin, **cfg.overrides})
            self.resources = LocalResources(self.model, self.moto.endpoint).create(
                restore_from=cfg.data_dir / "s3", secrets_dir=cfg.data_dir / "secrets"
            )
            self._migrate()
            self.demo_password = ensure_demo_account(cfg.effective_database_url, cfg.data_dir)
            self._start_functions()
            self._start_event_sources()
            if cfg.demo_portfolio and cfg.run_scheduler:
                threading.Thread(target=self._demo_portfolio, daemon=True, name="demo-portfolio").start()
        except BaseException:
            self.stop(save=False)
            raise
        log.info("local stack built in %.1f s; its functions are starting", time.perf_counter() - started)
        return self

    def _migrate(self) -> None:
        assert self.model is not None
        # The migrations use the shared layer's models, as the deploy-time migration function does with the layer.
        for layer_dir in {str(d) for spec in self.model.functions.values() for d in spec.layer_dirs}:
            if layer_dir not in sys.path:
                sys.path.append(layer_dir)
        from migrations.runner import upgrade

        upgrade(self.config.effective_database_url)
        log.info("database migrated (%s)", self.config.effective_database_url.split("://", 1)[0])

    def function_environment(self, logical_id: str) -> dict[str, str]:
        assert self.model is not None and self.resources is not None
        spec = self.model.functions[logical_id]
        env = {k: os.environ[k] for k in _PASSTHROUGH if k in os.environ}
        env.update(aws_environment(self.moto.endpoint))
        env.update(
            {
                "TZ": ":UTC",
                "AWS_LAMBDA_FUNCTION_NAME": f"{self.model.stack_name}-{logical_id}",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update({k: str(v) for k, v in self.resources.resolver.resolve(spec.environment).items()})
        return env

    def _start_functions(self) -> None:
        assert self.model is not None
        for logical_id, spec in self.model.functions.items():
            self.pools[logical_id] = FunctionPool(
                spec, self.function_environment(logical_id), self.config.max_instances
            )
        if self.config.warm:
            http_functions = {r.function for r in self.model.routes}
            for logical_id in sorted(http_functions):
                thread = threading.Thread(target=self.pools[logical_id].warm, daemon=True, name=f"warm:{logical_id}")
                thread.start()
                self._warming.append(thread)

    def wait_warm(self, timeout: float = 120.0) -> bool:
        """Wait until every HTTP function has a warm instance (its handler imported); False if `timeout` passed."""
        deadline = time.monotonic() + timeout
        for thread in self._warming:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._warming)

    def _start_event_sources(self) -> None:
        assert self.model is not None and self.resources is not None
        for source in self.model.sqs_sources:
            poller = SqsPoller(
                self.resources.sqs,
                self.resources.queue_url(source.queue),
                self.resources.physical[source.queue]["Arn"],
                lambda event, fn=source.function: self.invoke(fn, event),
                source.batch_size,
                source.report_failures,
            )
            self.pollers.append(poller)
            if self.config.run_poller:
                poller.start()
        for sched in self.model.schedules:
            rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{self.model.stack_name}-{sched.function}{sched.name}"
            scheduler = Scheduler(sched.expression, rule_arn, lambda event, fn=sched.function: self.invoke(fn, event))
            self.schedulers.append(scheduler)
            if self.config.run_scheduler:
                scheduler.start()

    def ensure_demo_portfolio(self) -> Any:
        """The demo account's portfolio, created and uploaded if it has none or it never got its holdings (see
        local.demo); its id, or None when nothing was needed. Once per start: a second call finds the first's upload
        still on its way, not a portfolio to repair."""
        assert self.resources is not None
        with self._demo_lock:
            if self._demo_ensured:
                return None
            self._demo_ensured = True
            bucket = self.resources.bucket_names()[0]
            return ensure_demo_portfolio(self.config.effective_database_url, self.resources.s3, bucket)

    def _demo_portfolio(self, timeout: float = 600.0) -> None:
        """After factor_update's first run (the factor data the default analysis needs), the demo portfolio."""
        factor_update = [s for s in self.schedulers if "FactorUpdateFunction" in s.rule_arn]
        deadline = time.monotonic() + timeout
        while any(s.runs == 0 for s in factor_update) and time.monotonic() < deadline:
            if self._stopping.wait(0.1):
                return
        try:
            portfolio_id = self.ensure_demo_portfolio()
            while portfolio_id is not None and time.monotonic() < deadline:
                status = latest_analysis_status(self.config.effective_database_url, portfolio_id)
                if status in ("ready", "failed"):
                    log.info("demo portfolio analysed (%s) %.1f s after the start", status, self.uptime())
                    return
                if self._stopping.wait(0.25):
                    return
        except Exception:
            if not self._stopping.is_set():  # stopped meanwhile: nothing to report
                log.exception("demo portfolio not created")

    def uptime(self) -> float:
        """Seconds since start() began."""
        return time.perf_counter() - self._began

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        return self.pools[logical_id].invoke(event)

    def gateway(self) -> Any:
        assert self.model is not None and self.resources is not None
        headers = security_headers(self.model, self.resources.resolver.resolve, self.moto.endpoint)
        return create_gateway(self.model.routes, self.invoke, ROOT / "frontend", headers)

    def http_server(self) -> Any:
        """The gateway's HTTP server (uvicorn), saying nothing of itself (no Server header)."""
        import uvicorn

        config = uvicorn.Config(
            self.gateway(),
            host=self.config.host,
            port=self.config.port,
            log_level="warning",
            access_log=False,
            server_header=False,
        )
        return uvicorn.Server(config)

    def stop(self, save: bool = True) -> None:
        self._stopping.set()
        for thread in [*self.pollers, *self.schedulers]:
            thread.stop()
        for thread in [*self.pollers, *self.schedulers]:
            if thread.is_alive():
                thread.join(timeout=15)
        if save and self.resources is not None and self.moto.process is not None:
            try:
                saved = self.resources.save_objects(self.config.data_dir / "s3")
                log.info("saved %d S3 object(s) under %s", saved, self.config.data_dir / "s3")
            except Exception:
                log.exception("could not save S3 objects")
        for pool in self.pools.values():
            pool.close()
        self.moto.stop()
        if self._socket is not None:
            self._socket.close()

    # ------------------------------------------------------------------ HTTP
    @property
    def stopping(self) -> threading.Event:
        """Set once stop() has begun."""
        return self._stopping

    def sockets(self) -> list[socket.socket] | None:
        """The gateway's listening socket, when the stack bound one (port 0), for the HTTP server to serve on."""
        return [self._socket] if self._socket is not None else None

    def start_http(self, timeout: float = 20.0) -> str:
        """Serve the gateway from a background thread (tests); returns the base URL."""
        self._server = self.http_server()
        self._server_thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": self.sockets()}, daemon=True, name="gateway"
        )
        self._server_thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._server_thread.is_alive():
                raise RuntimeError(f"gateway did not start on port {self.config.port}")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]  # the real one when config.port is 0
        return f"http://{self.config.host}:{port}"

    def stop_http(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._server_thread is not None:
                self._server_thread.join(timeout=10)
            self._server = None
