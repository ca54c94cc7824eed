"""Server-side printing: ``meta.k8s.io`` ``Table`` responses, as ``kubectl get`` asks for them.

kubectl sends ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...`` and renders whatever
columns the server returns, so the columns and cell values here follow the real API server's
printers (``pkg/printers/internalversion``): built-in types get their own columns, custom resources
get their CRD version's ``additionalPrinterColumns`` (or ``Age``), and everything else gets the
generic ``Name`` / ``Created At`` pair. Like the real server, every printer runs in wide mode (all
columns, priority > 0 included); kubectl drops the wide ones itself unless ``-o wide``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from luban.kube.resources import ResourceType

Obj = Mapping[str, Any]
Cells = list[Any]

TABLE_GROUP = "meta.k8s.io"
TABLE_VERSIONS = ("v1", "v1beta1")
INCLUDE_OBJECT_POLICIES = ("None", "Metadata", "Object")

# Media types the API server has serializers for; a clause naming anything else is skipped.
_SERIALIZERS = (
    ("application", "json"),
    ("application", "yaml"),
    ("application", "vnd.kubernetes.protobuf"),
    ("application", "cbor"),
)
# strconv's shortest 'g' (what fmt's %v uses) switches to exponent form from 1e6 up.
_GO_EXP_LIMIT = 6
_TABLE_SERIALIZERS = (("application", "json"), ("application", "yaml"))

_NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_AGE_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)


# --------------------------------------------------------------------------- Accept negotiation


@dataclass(frozen=True)
class _Clause:
    type: str
    subtype: str
    params: dict[str, str]
    q: float


def _parse_accept(accept: str) -> list[_Clause]:
    clauses: list[_Clause] = []
    for part in accept.split(","):
        media, *raw_params = part.split(";")
        main, _, sub = media.strip().partition("/")
        main, sub = main.strip().lower(), sub.strip().lower()
        if not sub:
            if main != "*":
                continue
            sub = "*"
        params: dict[str, str] = {}
        q = 1.0
        for raw in raw_params:
            key, eq, value = raw.partition("=")
            if not eq:
                continue
            key, value = key.strip().lower(), value.strip().strip('"')
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
            else:
                params[key] = value
        clauses.append(_Clause(main, sub, params, q))
    # The API server tries clauses by preference: higher q first, then the more specific ones.
    clauses.sort(key=lambda c: (-c.q, c.type == "*", c.subtype == "*"))
    return clauses


def _serializers_for(clause: _Clause) -> list[tuple[str, str]]:
    return [
        (main, sub)
        for main, sub in _SERIALIZERS
        if (clause.type == "*" and clause.subtype == "*")
        or (clause.type == main and clause.subtype in (sub, "*"))
    ]


def _negotiated_table_version(accept: str) -> str | None:
    """The Table version the first satisfiable Accept clause asks for, or None (not a Table)."""
    for clause in _parse_accept(accept):
        for serializer in _serializers_for(clause):
            as_, group, version = (clause.params.get(k) for k in ("as", "g", "v"))
            if as_ is None and group is None and version is None:
                return None  # a plain representation satisfies this clause first
            if group != TABLE_GROUP or version not in TABLE_VERSIONS:
                continue
            if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                return None
            if as_ == "Table" and serializer in _TABLE_SERIALIZERS:
                return version
    return None


def wants_table(accept: str) -> bool:
    """Whether the Accept header's first satisfiable choice is a ``meta.k8s.io`` Table."""
    return _negotiated_table_version(accept) is not None


def table_version(accept: str) -> str:
    """``v1`` or ``v1beta1``: the Table version chosen (``v1`` when no Table was asked for)."""
    return _negotiated_table_version(accept) or "v1"


# --------------------------------------------------------------------------- time and formatting


def human_duration(d: timedelta) -> str:
    """A duration the way ``k8s.io/apimachinery/pkg/util/duration.HumanDuration`` writes it."""
    micros = d // timedelta(microseconds=1)
    seconds = math.trunc(micros / 1_000_000)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = hours // 24 // 365, (hours // 24) % 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def _parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp, or None for a missing/zero/unparseable one (Go's zero time)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.year <= 1:
        return None
    return parsed


def _since(value: Any, now: datetime) -> str:
    when = _parse_time(value)
    return "<unknown>" if when is None else human_duration(now - when)


def _format_labels(labels: Any) -> str:
    if not isinstance(labels, Mapping) or not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def _selector_string(selector: Any) -> str | None:
    """``metav1.LabelSelectorAsSelector(sel).String()``; None when the selector is invalid."""
    if not isinstance(selector, Mapping):
        return ""
    reqs: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        reqs.append((key, f"{key}={value}"))
    for expr in selector.get("matchExpressions") or []:
        key, op = str(expr.get("key", "")), expr.get("operator")
        values = [str(v) for v in expr.get("values") or []]
        if op in ("In", "NotIn"):
            if not values:
                return None
            word = "in" if op == "In" else "notin"
            reqs.append((key, f"{key} {word} ({','.join(sorted(values))})"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                return None
            reqs.append((key, key if op == "Exists" else f"!{key}"))
        else:
            return None
    reqs.sort(key=lambda r: r[0])
    return ",".join(text for _, text in reqs)


def _format_label_selector(selector: Any) -> str:
    text = _selector_string(selector)
    if text is None:
        return "<error>"
    return text or "<none>"


def _containers_cells(pod_spec: Any) -> tuple[str, str]:
    containers = (pod_spec or {}).get("containers") or []
    names = ",".join(str(c.get("name", "")) for c in containers)
    images = ",".join(str(c.get("image", "")) for c in containers)
    return names, images


def _template_spec(obj: Obj) -> Mapping[str, Any]:
    return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _go_float(value: float) -> str:
    """``fmt.Sprint(float64)``: shortest digits, ``%e`` form when the exponent is < -4 or >= 6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    normal = Decimal(repr(abs(value))).normalize()
    _, digit_tuple, exponent = normal.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    lead = len(digits) - 1 + exponent  # decimal exponent of the first digit
    if lead < -4 or lead >= _GO_EXP_LIMIT:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if lead < 0 else '+'}{abs(lead):02d}"
    if lead < 0:
        return f"{sign}0.{'0' * (-lead - 1)}{digits}"
    whole, frac = digits[: lead + 1].ljust(lead + 1, "0"), digits[lead + 1 :]
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


# --------------------------------------------------------------------------- column definitions


def _col(name: str, typ: str, desc: str, priority: int = 0, fmt: str = "") -> dict[str, Any]:
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": priority}


def _name_col() -> dict[str, Any]:
    return _col("Name", "string", _NAME_DOC, fmt="name")


def _age_col() -> dict[str, Any]:
    return _col("Age", "string", _AGE_DOC)


def _wide(name: str, desc: str) -> dict[str, Any]:
    return _col(name, "string", desc, 1)


_CONTAINERS_DOC = "Names of each container in the template."
_IMAGES_DOC = "Images referenced by each container in the template."
_SELECTOR_DOC = "A label query over pods that should match the replica count."


@dataclass(frozen=True)
class _Printer:
    columns: tuple[dict[str, Any], ...]
    cells: Callable[[Obj, datetime], Cells]
    conditions: Callable[[Obj], list[dict[str, Any]]] = lambda _obj: []


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _age(obj: Obj, now: datetime) -> str:
    return _since((obj.get("metadata") or {}).get("creationTimestamp"), now)


# --------------------------------------------------------------------------- pods


def _restartable(container: Any) -> bool:
    return isinstance(container, Mapping) and container.get("restartPolicy") == "Always"


def _last_finished(status: Mapping[str, Any]) -> datetime | None:
    terminated = (status.get("lastState") or {}).get("terminated")
    return None if terminated is None else _parse_time(terminated.get("finishedAt"))


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _has_condition(status: Mapping[str, Any], typ: str) -> bool:
    return any(
        c.get("type") == typ and c.get("status") == "True" for c in status.get("conditions") or []
    )


def _exit_reason(terminated: Mapping[str, Any], prefix: str) -> str:
    if terminated.get("reason"):
        return prefix + str(terminated["reason"])
    if _int(terminated.get("signal")):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{_int(terminated.get('exitCode'))}"


@dataclass
class _PodTally:
    reason: str
    ready: int = 0
    restarts: int = 0
    last_restart: datetime | None = None


def _tally_init(pod_spec: Obj, status: Obj, tally: _PodTally) -> tuple[bool, int, datetime | None]:
    """Walks init containers; returns (initializing, sidecar restarts, last sidecar restart)."""
    init_specs = pod_spec.get("initContainers") or []
    by_name = {c.get("name"): c for c in init_specs}
    sidecar_restarts, sidecar_last = 0, None
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        count = _int(cs.get("restartCount"))
        tally.restarts += count
        tally.last_restart = _later(tally.last_restart, _last_finished(cs))
        sidecar = _restartable(by_name.get(cs.get("name")))
        if sidecar:
            sidecar_restarts += count
            sidecar_last = _later(sidecar_last, _last_finished(cs))
        state = cs.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and _int(terminated.get("exitCode")) == 0:
            continue
        if sidecar and cs.get("started") is True:
            if cs.get("ready"):
                tally.ready += 1
            continue
        if terminated is not None:
            tally.reason = _exit_reason(terminated, "Init:")
        elif waiting is not None and waiting.get("reason") not in (None, "", "PodInitializing"):
            tally.reason = f"Init:{waiting['reason']}"
        else:
            tally.reason = f"Init:{i}/{len(init_specs)}"
        return True, sidecar_restarts, sidecar_last
    return False, sidecar_restarts, sidecar_last


def _tally_containers(status: Obj, tally: _PodTally) -> None:
    has_running = False
    # Walked last to first so the first container with a reason is the one shown.
    for cs in reversed(status.get("containerStatuses") or []):
        tally.restarts += _int(cs.get("restartCount"))
        tally.last_restart = _later(tally.last_restart, _last_finished(cs))
        state = cs.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if waiting is not None and waiting.get("reason"):
            tally.reason = str(waiting["reason"])
        elif terminated is not None:
            tally.reason = _exit_reason(terminated, "")
        elif cs.get("ready") and state.get("running") is not None:
            has_running = True
            tally.ready += 1
    if tally.reason == "Completed" and has_running:
        tally.reason = "Running" if _has_condition(status, "Ready") else "NotReady"


def _pod_cells(pod: Obj, now: datetime) -> Cells:
    meta, spec, status = (pod.get(k) or {} for k in ("metadata", "spec", "status"))
    phase = str(status.get("phase") or "")
    tally = _PodTally(reason=str(status.get("reason") or phase))
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            tally.reason = "SchedulingGated"
    total = len(spec.get("containers") or []) + sum(
        1 for c in spec.get("initContainers") or [] if _restartable(c)
    )
    initializing, sidecar_restarts, sidecar_last = _tally_init(spec, status, tally)
    if not initializing or _has_condition(status, "Initialized"):
        tally.restarts, tally.last_restart = sidecar_restarts, sidecar_last
        _tally_containers(status, tally)
    if meta.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        tally.reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        tally.reason = "Terminating"
    restarts = str(tally.restarts)
    if tally.restarts and tally.last_restart is not None:
        restarts = f"{tally.restarts} ({human_duration(now - tally.last_restart)} ago)"
    ips = status.get("podIPs") or ([{"ip": status["podIP"]}] if status.get("podIP") else [])
    gates = spec.get("readinessGates") or []
    gates_cell = "<none>"
    if gates:
        by_type: dict[Any, Mapping[str, Any]] = {}
        for cond in status.get("conditions") or []:
            by_type.setdefault(cond.get("type"), cond)
        ok = sum(
            1 for g in gates if (by_type.get(g.get("conditionType")) or {}).get("status") == "True"
        )
        gates_cell = f"{ok}/{len(gates)}"
    return [
        _name(pod),
        f"{tally.ready}/{total}",
        tally.reason,
        restarts,
        _age(pod, now),
        (ips[0].get("ip") if ips else "") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_cell,
    ]


def _pod_conditions(pod: Obj) -> list[dict[str, Any]]:
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Succeeded":
        message = "The pod has completed successfully."
    elif phase == "Failed":
        message = "The pod failed."
    else:
        return []
    return [{"type": "Completed", "status": "True", "reason": phase, "message": message}]


_POD = _Printer(
    (
        _name_col(),
        _col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
        _col("Status", "string", "The aggregate status of the containers in this pod."),
        _col("Restarts", "string", "Container restarts, and how long ago the last one was."),
        _age_col(),
        _wide("IP", "podIP address allocated to the pod. Routable at least within the cluster."),
        _wide("Node", "NodeName indicates in which node this pod is scheduled."),
        _wide("Nominated Node", "nominatedNodeName is set only when this pod preempts other pods."),
        _wide("Readiness Gates", "Readiness gates that are true, of all."),
    ),
    _pod_cells,
    _pod_conditions,
)


# --------------------------------------------------------------------------- workloads


def _spec(obj: Obj) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Mapping[str, Any]:
    return obj.get("status") or {}


def _replicas(obj: Obj) -> int:
    value = _spec(obj).get("replicas", 1)
    return _int(value) if value is not None else 1


def _deployment_cells(obj: Obj, now: datetime) -> Cells:
    st = _status(obj)
    names, images = _containers_cells(_template_spec(obj))
    selector = _selector_string(_spec(obj).get("selector"))
    return [
        _name(obj),
        f"{_int(st.get('readyReplicas'))}/{_replicas(obj)}",
        _int(st.get("updatedReplicas")),
        _int(st.get("availableReplicas")),
        _age(obj, now),
        names,
        images,
        "<invalid>" if selector is None else selector,
    ]


def _replica_set_cells(obj: Obj, now: datetime) -> Cells:
    st = _status(obj)
    names, images = _containers_cells(_template_spec(obj))
    return [
        _name(obj),
        _replicas(obj),
        _int(st.get("replicas")),
        _int(st.get("readyReplicas")),
        _age(obj, now),
        names,
        images,
        _format_label_selector(_spec(obj).get("selector")),
    ]


def _replication_controller_cells(obj: Obj, now: datetime) -> Cells:
    cells = _replica_set_cells(obj, now)
    cells[-1] = _format_labels(_spec(obj).get("selector"))
    return cells


def _stateful_set_cells(obj: Obj, now: datetime) -> Cells:
    names, images = _containers_cells(_template_spec(obj))
    ready = _int(_status(obj).get("readyReplicas"))
    return [_name(obj), f"{ready}/{_replicas(obj)}", _age(obj, now), names, images]


def _daemon_set_cells(obj: Obj, now: datetime) -> Cells:
    st = _status(obj)
    names, images = _containers_cells(_template_spec(obj))
    counts = (
        "desiredNumberScheduled",
        "currentNumberScheduled",
        "numberReady",
        "updatedNumberScheduled",
        "numberAvailable",
    )
    return [
        _name(obj),
        *(_int(st.get(k)) for k in counts),
        _format_labels(_template_spec(obj).get("nodeSelector")),
        _age(obj, now),
        names,
        images,
        _format_label_selector(_spec(obj).get("selector")),
    ]


def _job_status(obj: Obj) -> str:
    conditions: dict[Any, bool] = {}
    for cond in _status(obj).get("conditions") or []:
        conditions.setdefault(cond.get("type"), cond.get("status") == "True")
    if conditions.get("Complete"):
        return "Complete"
    if conditions.get("Failed"):
        return "Failed"
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    if conditions.get("Suspended"):
        return "Suspended"
    if conditions.get("FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job_cells(obj: Obj, now: datetime) -> Cells:
    spec, st = _spec(obj), _status(obj)
    succeeded = _int(st.get("succeeded"))
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{_int(spec['completions'])}"
    elif _int(spec.get("parallelism")) > 1:
        completions = f"{succeeded}/1 of {_int(spec['parallelism'])}"
    else:
        completions = f"{succeeded}/1"
    start, end = _parse_time(st.get("startTime")), _parse_time(st.get("completionTime"))
    duration = ""
    if start is not None:
        duration = human_duration((end or now) - start)
    names, images = _containers_cells(_template_spec(obj))
    return [
        _name(obj),
        _job_status(obj),
        completions,
        duration,
        _age(obj, now),
        names,
        images,
        _format_label_selector(spec.get("selector")),
    ]


def _bool_ptr(value: Any) -> str:
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def _cron_job_cells(obj: Obj, now: datetime) -> Cells:
    spec, st = _spec(obj), _status(obj)
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    names, images = _containers_cells((job_spec.get("template") or {}).get("spec"))
    last = st.get("lastScheduleTime")
    return [
        _name(obj),
        str(spec.get("schedule", "")),
        spec.get("timeZone") or "<none>",
        _bool_ptr(spec.get("suspend")),
        len(st.get("active") or []),
        "<none>" if last is None else _since(last, now),
        _age(obj, now),
        names,
        images,
        _format_label_selector(job_spec.get("selector")),
    ]


def _wide_template_cols(selector: bool = True) -> tuple[dict[str, Any], ...]:
    cols = (_wide("Containers", _CONTAINERS_DOC), _wide("Images", _IMAGES_DOC))
    return (*cols, _wide("Selector", _SELECTOR_DOC)) if selector else cols


_REPLICA_COLS = (
    _name_col(),
    _col("Desired", "integer", "Replicas is the number of desired replicas."),
    _col("Current", "integer", "Replicas is the most recently observed number of replicas."),
    _col("Ready", "integer", "The number of ready replicas for this replica set."),
    _age_col(),
    *_wide_template_cols(),
)

_DEPLOYMENT = _Printer(
    (
        _name_col(),
        _col("Ready", "string", "Number of the pod with ready state"),
        _col("Up-to-date", "string", "Pods with the desired template."),
        _col("Available", "string", "Available pods."),
        _age_col(),
        *_wide_template_cols(),
    ),
    _deployment_cells,
)
_REPLICA_SET = _Printer(_REPLICA_COLS, _replica_set_cells)
_REPLICATION_CONTROLLER = _Printer(_REPLICA_COLS, _replication_controller_cells)
_STATEFUL_SET = _Printer(
    (
        _name_col(),
        _col("Ready", "string", "Number of the pod with ready state"),
        _age_col(),
        *_wide_template_cols(selector=False),
    ),
    _stateful_set_cells,
)
_DAEMON_SET = _Printer(
    (
        _name_col(),
        _col("Desired", "integer", "Nodes that should run the pod."),
        _col("Current", "integer", "Nodes running the pod."),
        _col("Ready", "integer", "Nodes with the pod ready."),
        _col("Up-to-date", "integer", "Nodes running the updated pod."),
        _col("Available", "integer", "Nodes with the pod available."),
        _col("Node Selector", "string", "The pod template's nodeSelector."),
        _age_col(),
        *_wide_template_cols(),
    ),
    _daemon_set_cells,
)
_JOB = _Printer(
    (
        _name_col(),
        _col("Status", "string", "Status of the job."),
        _col("Completions", "string", "The number of pods which reached phase Succeeded."),
        _col("Duration", "string", "Time required to complete the job."),
        _age_col(),
        *_wide_template_cols(),
    ),
    _job_cells,
)
_CRON_JOB = _Printer(
    (
        _name_col(),
        _col("Schedule", "string", "The schedule in Cron format."),
        _col("Timezone", "string", "The time zone name for the given schedule."),
        _col("Suspend", "boolean", "Whether runs are suspended."),
        _col("Active", "integer", "A list of pointers to currently running jobs."),
        _col("Last Schedule", "string", "When a job was last scheduled."),
        _age_col(),
        *_wide_template_cols(),
    ),
    _cron_job_cells,
)


# --------------------------------------------------------------------------- services & network


def _lb_ingress(status: Any) -> str:
    found = set()
    for ing in ((status or {}).get("loadBalancer") or {}).get("ingress") or []:
        if ing.get("ip"):
            found.add(ing["ip"])
        elif ing.get("hostname"):
            found.add(ing["hostname"])
    return ",".join(sorted(found))


def _service_external_ip(svc: Obj) -> str:
    spec = _spec(svc)
    svc_type = spec.get("type") or "ClusterIP"
    external = [str(ip) for ip in spec.get("externalIPs") or []]
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if svc_type == "LoadBalancer":
        lb = _lb_ingress(svc.get("status"))
        if external:
            return ",".join([*(lb.split(",") if lb else []), *external])
        return lb or "<pending>"
    if svc_type == "ExternalName":
        return str(spec.get("externalName", ""))
    return "<unknown>"


def _service_ports(ports: Sequence[Mapping[str, Any]]) -> str:
    pieces = []
    for port in ports:
        protocol = port.get("protocol") or "TCP"
        node_port = _int(port.get("nodePort"))
        if node_port > 0:
            pieces.append(f"{_int(port.get('port'))}:{node_port}/{protocol}")
        else:
            pieces.append(f"{_int(port.get('port'))}/{protocol}")
    return ",".join(pieces)


def _service_cells(svc: Obj, now: datetime) -> Cells:
    spec = _spec(svc)
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [
        _name(svc),
        str(spec.get("type") or "ClusterIP"),
        cluster_ips[0] if cluster_ips else "<none>",
        _service_external_ip(svc),
        _service_ports(spec.get("ports") or []) or "<none>",
        _age(svc, now),
        _format_labels(spec.get("selector")),
    ]


def _endpoints_summary(obj: Obj) -> str:
    subsets = obj.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    limit, count = 3, 0
    for subset in subsets:
        addresses = [str(a.get("ip", "")) for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        pairs = (
            [(ip, None) for ip in addresses]
            if not ports
            else [(ip, _int(p.get("port"))) for p in ports for ip in addresses]
        )
        count += len(pairs)
        for ip, port in pairs:
            if len(shown) < limit:
                shown.append(ip if port is None else _join_host_port(ip, port))
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if count > limit else text


def _ingress_hosts(rules: Sequence[Mapping[str, Any]]) -> str:
    hosts: list[str] = []
    more = False
    for rule in rules:
        # Like the real printer: "more" only once a rule turns up after three hosts.
        more = more or len(hosts) == 3
        if not more and rule.get("host"):
            hosts.append(str(rule["host"]))
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - 3} more..." if more else text


def _ingress_cells(obj: Obj, now: datetime) -> Cells:
    spec = _spec(obj)
    return [
        _name(obj),
        spec.get("ingressClassName") or "<none>",
        _ingress_hosts(spec.get("rules") or []),
        _lb_ingress(obj.get("status")),
        "80, 443" if spec.get("tls") else "80",
        _age(obj, now),
    ]


def _ingress_class_cells(obj: Obj, now: datetime) -> Cells:
    spec = _spec(obj)
    params = spec.get("parameters")
    text = "<none>"
    if params:
        text = str(params.get("kind", ""))
        if params.get("apiGroup") is not None:
            text += "." + str(params["apiGroup"])
        text += "/" + str(params.get("name", ""))
    return [_name(obj), str(spec.get("controller", "")), text, _age(obj, now)]


_SERVICE = _Printer(
    (
        _name_col(),
        _col("Type", "string", "type determines how the Service is exposed."),
        _col("Cluster-IP", "string", "clusterIP is the IP address of the service."),
        _col("External-IP", "string", "External IPs or load-balancer ingress."),
        _col("Port(s)", "string", "The list of ports that are exposed by this service."),
        _age_col(),
        _wide("Selector", "The pods traffic is routed to."),
    ),
    _service_cells,
)
_ENDPOINTS = _Printer(
    (
        _name_col(),
        _col("Endpoints", "string", "The set of all endpoints is the union of all subsets."),
        _age_col(),
    ),
    lambda o, now: [_name(o), _endpoints_summary(o), _age(o, now)],
)
_INGRESS = _Printer(
    (
        _name_col(),
        _col("Class", "string", "The IngressClass."),
        _col("Hosts", "string", "Hosts the rules match."),
        _col("Address", "string", "Load-balancer ingress points."),
        _col("Ports", "string", "Ports of TLS configurations that open"),
        _age_col(),
    ),
    _ingress_cells,
)
_INGRESS_CLASS = _Printer(
    (
        _name_col(),
        _col("Controller", "string", "Controller that is responsible for handling this class"),
        _col("Parameters", "string", "A reference to a resource with additional parameters"),
        _age_col(),
    ),
    _ingress_class_cells,
)
_NETWORK_POLICY = _Printer(
    (
        _name_col(),
        _col("Pod-Selector", "string", "The pods the policy applies to."),
        _age_col(),
    ),
    lambda o, now: [_name(o), _format_label_selector(_spec(o).get("podSelector")), _age(o, now)],
)


# --------------------------------------------------------------------------- config & cluster


def _node_roles(labels: Mapping[str, Any]) -> list[str]:
    roles = set()
    for key, value in labels.items():
        if key.startswith("node-role.kubernetes.io/") and key[len("node-role.kubernetes.io/") :]:
            roles.add(key[len("node-role.kubernetes.io/") :])
        elif key == "kubernetes.io/role" and value:
            roles.add(str(value))
    return sorted(roles)


def _node_address(status: Mapping[str, Any], typ: str) -> str:
    for address in status.get("addresses") or []:
        if address.get("type") == typ:
            return str(address.get("address", ""))
    return "<none>"


def _node_cells(node: Obj, now: datetime) -> Cells:
    st = _status(node)
    conditions = {c.get("type"): c for c in st.get("conditions") or []}
    ready = conditions.get("Ready")
    status = (
        ["Unknown"] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    )
    if _spec(node).get("unschedulable"):
        status.append("SchedulingDisabled")
    info = st.get("nodeInfo") or {}
    roles = ",".join(_node_roles((node.get("metadata") or {}).get("labels") or {}))
    return [
        _name(node),
        ",".join(status),
        roles or "<none>",
        _age(node, now),
        str(info.get("kubeletVersion", "")),
        _node_address(st, "InternalIP"),
        _node_address(st, "ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _event_cells(ev: Obj, now: datetime) -> Cells:
    first = _since(ev.get("firstTimestamp"), now)
    if _parse_time(ev.get("firstTimestamp")) is None:
        first = _since(ev.get("eventTime"), now)
    last = (
        first if _parse_time(ev.get("lastTimestamp")) is None else _since(ev["lastTimestamp"], now)
    )
    count = _int(ev.get("count"))
    series = ev.get("series")
    if series is not None:
        last = _since(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1  # singleton events of the newer API carry no count
    involved = ev.get("involvedObject") or {}
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = ev.get("source") or {}
    component = source.get("component") or ev.get("reportingComponent") or ""
    host = source.get("host") or ev.get("reportingInstance") or ""
    return [
        last,
        str(ev.get("type", "")),
        str(ev.get("reason", "")),
        target,
        str(involved.get("fieldPath", "")),
        f"{component}, {host}" if host else component,
        str(ev.get("message", "")).strip(),
        first,
        count,
        _name(ev),
    ]


_ACCESS_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)
_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"


def _access_modes(modes: Any) -> str:
    present = set(modes or [])
    return ",".join(short for mode, short in _ACCESS_MODES if mode in present)


def _storage_class(obj: Obj) -> str:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if _BETA_CLASS in annotations:
        return str(annotations[_BETA_CLASS])
    return str(_spec(obj).get("storageClassName") or "")


def _phase(obj: Obj) -> str:
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    return str(_status(obj).get("phase") or "")


def _pv_cells(pv: Obj, now: datetime) -> Cells:
    spec = _spec(pv)
    claim = spec.get("claimRef")
    return [
        _name(pv),
        str((spec.get("capacity") or {}).get("storage") or "0"),
        _access_modes(spec.get("accessModes")),
        str(spec.get("persistentVolumeReclaimPolicy", "")),
        _phase(pv),
        f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else "",
        _storage_class(pv),
        spec.get("volumeAttributesClassName") or "<unset>",
        str(_status(pv).get("reason", "")),
        _age(pv, now),
        spec.get("volumeMode") or "<unset>",
    ]


def _pvc_cells(pvc: Obj, now: datetime) -> Cells:
    spec, st = _spec(pvc), _status(pvc)
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = _access_modes(st.get("accessModes"))
        capacity = str((st.get("capacity") or {}).get("storage") or "0")
    return [
        _name(pvc),
        _phase(pvc),
        str(spec.get("volumeName", "")),
        capacity,
        modes,
        _storage_class(pvc),
        spec.get("volumeAttributesClassName") or "<unset>",
        _age(pvc, now),
        spec.get("volumeMode") or "<unset>",
    ]


def _binding_cells(obj: Obj, now: datetime) -> Cells:
    ref = obj.get("roleRef") or {}
    users, groups, sas = [], [], []
    for subject in obj.get("subjects") or []:
        kind, name = subject.get("kind"), str(subject.get("name", ""))
        if kind == "ServiceAccount":
            sas.append(f"{subject.get('namespace', '')}/{name}")
        elif kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
    return [
        _name(obj),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _age(obj, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(sas),
    ]


def _storage_class_cells(obj: Obj, now: datetime) -> Cells:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    default = "true" in (
        annotations.get("storageclass.kubernetes.io/is-default-class"),
        annotations.get("storageclass.beta.kubernetes.io/is-default-class"),
    )
    return [
        _name(obj) + (" (default)" if default else ""),
        str(obj.get("provisioner", "")),
        obj.get("reclaimPolicy") or "Delete",
        obj.get("volumeBindingMode") or "Immediate",
        bool(obj.get("allowVolumeExpansion")),
        _age(obj, now),
    ]


def _quota_cells(obj: Obj, now: datetime) -> Cells:
    st = _status(obj)
    hard, used = st.get("hard") or {}, st.get("used") or {}
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        column = limits if resource.split(".")[0] == "limits" and "." in resource else requests
        column.append(f"{resource}: {used.get(resource) or '0'}/{hard[resource] or '0'}")
    return [_name(obj), ", ".join(requests), ", ".join(limits), _age(obj, now)]


def _pdb_cells(obj: Obj, now: datetime) -> Cells:
    spec = _spec(obj)
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    return [
        _name(obj),
        "N/A" if min_available is None else str(min_available),
        "N/A" if max_unavailable is None else str(max_unavailable),
        _int(_status(obj).get("disruptionsAllowed")),
        _age(obj, now),
    ]


def _controller_revision_cells(obj: Obj, now: datetime) -> Cells:
    owner = next(
        (
            o
            for o in (obj.get("metadata") or {}).get("ownerReferences") or []
            if o.get("controller")
        ),
        None,
    )
    controller = "<none>"
    if owner is not None:
        group = str(owner.get("apiVersion", "")).rpartition("/")[0]
        kind = str(owner.get("kind", ""))
        group_kind = f"{kind}.{group}" if group else kind
        controller = (
            f"{group_kind.lower()}/{owner.get('name', '')}" if kind else str(owner.get("name", ""))
        )
    return [_name(obj), controller, _int(obj.get("revision")), _age(obj, now)]


def _pod_template_cells(obj: Obj, _now: datetime) -> Cells:
    template = obj.get("template") or {}
    names, images = _containers_cells(template.get("spec"))
    return [
        _name(obj),
        names,
        images,
        _format_labels((template.get("metadata") or {}).get("labels")),
    ]


def _simple(*cols: dict[str, Any], cells: Callable[[Obj, datetime], Cells]) -> _Printer:
    return _Printer((_name_col(), *cols), cells)


_NODE = _Printer(
    (
        _name_col(),
        _col("Status", "string", "The status of the node"),
        _col("Roles", "string", "The roles of the node"),
        _age_col(),
        _col("Version", "string", "Kubelet Version reported by the node."),
        _wide("Internal-IP", "List of addresses reachable to the node."),
        _wide("External-IP", "List of addresses reachable to the node."),
        _wide("OS-Image", "OS Image reported by the node from /etc/os-release."),
        _wide("Kernel-Version", "Kernel Version reported by the node from 'uname -r'."),
        _wide("Container-Runtime", "Container runtime version."),
    ),
    _node_cells,
)
_EVENT = _Printer(
    (
        _col("Last Seen", "string", "When the event last occurred."),
        _col("Type", "string", "Normal or Warning."),
        _col("Reason", "string", "Why the event happened."),
        _col("Object", "string", "The object that this event is about."),
        _wide("Subobject", "The field path within the object."),
        _wide("Source", "The component reporting this event."),
        _col("Message", "string", "A human-readable description of the status of this operation."),
        _wide("First Seen", "The time at which the event was first recorded."),
        _wide("Count", "The number of times this event has occurred."),
        _col("Name", "string", _NAME_DOC, 1, "name"),
    ),
    _event_cells,
)
_NAMESPACE = _simple(
    _col("Status", "string", "The status of the namespace"),
    _age_col(),
    cells=lambda o, now: [_name(o), str(_status(o).get("phase") or ""), _age(o, now)],
)
_CONFIG_MAP = _simple(
    _col("Data", "string", "Data contains the configuration data."),
    _age_col(),
    cells=lambda o, now: [
        _name(o),
        len(o.get("data") or {}) + len(o.get("binaryData") or {}),
        _age(o, now),
    ],
)
_SECRET = _simple(
    _col("Type", "string", "Used to facilitate programmatic handling of secret data."),
    _col("Data", "string", "Data contains the secret data."),
    _age_col(),
    cells=lambda o, now: [_name(o), str(o.get("type", "")), len(o.get("data") or {}), _age(o, now)],
)
_SERVICE_ACCOUNT = _simple(
    _col("Secrets", "string", "Number of listed secrets."),
    _age_col(),
    cells=lambda o, now: [_name(o), len(o.get("secrets") or []), _age(o, now)],
)
_PV = _simple(
    _col("Capacity", "string", "Storage capacity."),
    _col("Access Modes", "string", "accessModes contains all ways the volume can be mounted."),
    _col("Reclaim Policy", "string", "What happens on release."),
    _col("Status", "string", "The volume's phase."),
    _col("Claim", "string", "The bound claim."),
    _col("StorageClass", "string", "StorageClass of the pv"),
    _col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
    _col("Reason", "string", "Why the volume failed."),
    _age_col(),
    _wide("VolumeMode", "Filesystem or Block."),
    cells=_pv_cells,
)
_PVC = _simple(
    _col("Status", "string", "phase represents the current phase of PersistentVolumeClaim."),
    _col("Volume", "string", "The bound volume."),
    _col("Capacity", "string", "Storage capacity."),
    _col("Access Modes", "string", "The volume's access modes."),
    _col("StorageClass", "string", "StorageClass of the pvc"),
    _col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
    _age_col(),
    _wide("VolumeMode", "volumeMode defines what type of volume is required by the claim."),
    cells=_pvc_cells,
)


def _binding_printer(kind: str) -> _Printer:
    return _simple(
        _col("Role", "string", "The role bound."),
        _age_col(),
        _wide("Users", f"Users in the {kind}"),
        _wide("Groups", f"Groups in the {kind}"),
        _wide("ServiceAccounts", f"ServiceAccounts in the {kind}"),
        cells=_binding_cells,
    )


_LEASE = _simple(
    _col("Holder", "string", "The lease holder."),
    _age_col(),
    cells=lambda o, now: [_name(o), str(_spec(o).get("holderIdentity") or ""), _age(o, now)],
)
_STORAGE_CLASS = _simple(
    _col("Provisioner", "string", "provisioner indicates the type of the provisioner."),
    _col("ReclaimPolicy", "string", "Reclaim policy of provisioned volumes."),
    _col("VolumeBindingMode", "string", "When claims are bound."),
    _col("AllowVolumeExpansion", "string", "Whether volumes can grow."),
    _age_col(),
    cells=_storage_class_cells,
)
_PRIORITY_CLASS = _simple(
    _col("Value", "integer", "value represents the integer value of this priority class."),
    _col("Global-Default", "boolean", "Whether this is the default."),
    _age_col(),
    _col("PreemptionPolicy", "string", "Preemption policy."),
    cells=lambda o, now: [
        _name(o),
        _int(o.get("value")),
        bool(o.get("globalDefault")),
        _age(o, now),
        str(o.get("preemptionPolicy") or ""),
    ],
)
_PDB = _simple(
    _col("Min Available", "string", "The minimum number of pods that must be available."),
    _col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
    _col("Allowed Disruptions", "integer", "Pods that may be disrupted now."),
    _age_col(),
    cells=_pdb_cells,
)
_RESOURCE_QUOTA = _simple(
    _col("Request", "string", "Used/hard of request quotas."),
    _col("Limit", "string", "Used/hard of limit quotas."),
    _age_col(),
    cells=_quota_cells,
)
_CONTROLLER_REVISION = _simple(
    _col("Controller", "string", "Controller of the object"),
    _col("Revision", "string", "Revision indicates the revision of the state represented by Data."),
    _age_col(),
    cells=_controller_revision_cells,
)
_POD_TEMPLATE = _simple(
    _col("Containers", "string", _CONTAINERS_DOC),
    _col("Images", "string", _IMAGES_DOC),
    _col("Pod Labels", "string", "The labels for the pod template."),
    cells=_pod_template_cells,
)

_BUILTIN: dict[tuple[str, str], _Printer] = {
    ("", "pods"): _POD,
    ("", "podtemplates"): _POD_TEMPLATE,
    ("", "services"): _SERVICE,
    ("", "endpoints"): _ENDPOINTS,
    ("", "configmaps"): _CONFIG_MAP,
    ("", "secrets"): _SECRET,
    ("", "serviceaccounts"): _SERVICE_ACCOUNT,
    ("", "namespaces"): _NAMESPACE,
    ("", "nodes"): _NODE,
    ("", "events"): _EVENT,
    ("", "persistentvolumes"): _PV,
    ("", "persistentvolumeclaims"): _PVC,
    ("", "resourcequotas"): _RESOURCE_QUOTA,
    ("", "replicationcontrollers"): _REPLICATION_CONTROLLER,
    ("apps", "deployments"): _DEPLOYMENT,
    ("apps", "replicasets"): _REPLICA_SET,
    ("apps", "statefulsets"): _STATEFUL_SET,
    ("apps", "daemonsets"): _DAEMON_SET,
    ("apps", "controllerrevisions"): _CONTROLLER_REVISION,
    ("batch", "jobs"): _JOB,
    ("batch", "cronjobs"): _CRON_JOB,
    ("networking.k8s.io", "ingresses"): _INGRESS,
    ("networking.k8s.io", "ingressclasses"): _INGRESS_CLASS,
    ("networking.k8s.io", "networkpolicies"): _NETWORK_POLICY,
    ("policy", "poddisruptionbudgets"): _PDB,
    ("rbac.authorization.k8s.io", "rolebindings"): _binding_printer("roleBinding"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): _binding_printer("clusterRoleBinding"),
    ("coordination.k8s.io", "leases"): _LEASE,
    ("storage.k8s.io", "storageclasses"): _STORAGE_CLASS,
    ("scheduling.k8s.io", "priorityclasses"): _PRIORITY_CLASS,
}


def _created_at(obj: Obj) -> str:
    when = _parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    if when is None:
        return "0001-01-01T00:00:00Z"
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Types without a printer (roles, limit ranges, CRDs...) get the generic convertor's columns.
_DEFAULT = _Printer(
    (_name_col(), _col("Created At", "date", _AGE_DOC)),
    lambda o, _now: [_name(o), _created_at(o)],
)


# --------------------------------------------------------------------------- custom resources


class _PathError(ValueError):
    pass


_Step = tuple[str, Any]


def _parse_path(path: str) -> list[_Step]:
    """A CRD column's simple JSONPath (``.a.b``, ``[0]``, ``[*]``, ``['k']``, ``[?(@.x=="y")]``)."""
    steps: list[_Step] = []
    i, n = 0, len(path)
    while i < n:
        ch = path[i]
        if ch == ".":
            i += 1
            name: list[str] = []
            while i < n and path[i] not in ".[":
                if path[i] == "\\" and i + 1 < n:
                    i += 1
                name.append(path[i])
                i += 1
            if name:
                steps.append(("*", None) if name == ["*"] else ("field", "".join(name)))
        elif ch == "[":
            end = _bracket_end(path, i)
            steps.append(_bracket_step(path[i + 1 : end].strip()))
            i = end + 1
        else:
            raise _PathError(f"unexpected {ch!r} in {path!r}")
    return steps


def _bracket_end(path: str, start: int) -> int:
    quote: str | None = None
    for j in range(start + 1, len(path)):
        ch = path[j]
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "]":
            return j
    raise _PathError(f"unclosed [ in {path!r}")


def _bracket_step(inner: str) -> _Step:
    if inner == "*":
        return ("*", None)
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return ("field", inner[1:-1])
    if inner.startswith("?(") and inner.endswith(")"):
        return ("filter", _parse_filter(inner[2:-1].strip()))
    try:
        return ("index", int(inner))
    except ValueError:
        raise _PathError(f"unsupported [{inner}]") from None


_OPERATORS = ("==", "!=", "<=", ">=", "<", ">")


def _parse_filter(expr: str) -> tuple[list[_Step], str | None, Any]:
    for op in _OPERATORS:
        left, found, right = expr.partition(op)
        if found:
            return _filter_path(left.strip()), op, _literal(right.strip())
    return _filter_path(expr), None, None


def _filter_path(text: str) -> list[_Step]:
    if not text.startswith("@"):
        raise _PathError(f"filter must start with @: {text!r}")
    return _parse_path(text[1:])


def _literal(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        raise _PathError(f"bad literal {text!r}") from None


def _compare(value: Any, op: str, literal: Any) -> bool:
    def number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    if number(value) and number(literal):
        a, b = float(value), float(literal)
        return {
            "==": a == b,
            "!=": a != b,
            "<": a < b,
            ">": a > b,
            "<=": a <= b,
            ">=": a >= b,
        }[op]
    if op in ("==", "!="):
        return bool(value == literal) == (op == "==")
    return False


def _walk(values: Iterator[Any], step: _Step) -> Iterator[Any]:
    kind, arg = step
    for value in values:
        if kind == "field":
            if isinstance(value, Mapping) and arg in value:
                yield value[arg]
        elif kind == "*":
            if isinstance(value, Mapping):
                yield from (value[k] for k in sorted(value))
            elif isinstance(value, list):
                yield from value
        elif kind == "index":
            if isinstance(value, list) and -len(value) <= arg < len(value):
                yield value[arg]
        elif kind == "filter" and isinstance(value, list):
            path, op, literal = arg
            for item in value:
                found = list(_evaluate(item, path))
                if found and (op is None or _compare(found[0], op, literal)):
                    yield item


def _evaluate(obj: Any, steps: Sequence[_Step]) -> Iterator[Any]:
    values: Iterator[Any] = iter([obj])
    for step in steps:
        values = _walk(values, step)
    return values


def _go_text(value: Any) -> str:
    """What kubectl's JSONPath printer writes for one value (JSON for maps and lists)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return str(value)


def _typed_cell(typ: str, found: bool, value: Any, now: datetime) -> Any:
    if not found:
        return None
    if value is None:
        # Go's template printer writes a JSON null as "<no value>"; typed columns get null.
        return "<no value>" if typ == "string" else None
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if typ == "string":
        return _go_text(value)
    if typ == "integer" and number:
        return int(value)
    if typ == "number" and number:
        return float(value)
    if typ == "boolean" and isinstance(value, bool):
        return value
    if typ == "date" and isinstance(value, str):
        if value in ("", "null"):
            return "<unknown>"
        when = _parse_time(value)
        return "<invalid>" if when is None else human_duration(now - when)
    return None


def _custom_printer(rt: ResourceType) -> _Printer:
    specs = list(rt.printer_columns) or [
        {
            "name": "Age",
            "type": "date",
            "description": _AGE_DOC,
            "jsonPath": ".metadata.creationTimestamp",
        }
    ]
    columns = [_name_col()]
    paths: list[list[_Step] | None] = []
    for spec in specs:
        json_path = str(spec.get("jsonPath", ""))
        desc = spec.get("description") or (
            f"Custom resource definition column (in JSONPath format): {json_path}"
        )
        columns.append(
            _col(
                str(spec.get("name", "")),
                str(spec.get("type", "")),
                str(desc),
                _int(spec.get("priority")),
                str(spec.get("format") or ""),
            )
        )
        try:
            paths.append(_parse_path(json_path))
        except _PathError:
            paths.append(None)
    types = [c["type"] for c in columns[1:]]

    def cells(obj: Obj, now: datetime) -> Cells:
        row: Cells = [_name(obj)]
        for typ, path in zip(types, paths, strict=True):
            results = list(_evaluate(obj, path)) if path is not None else []
            row.append(_typed_cell(typ, bool(results), results[0] if results else None, now))
        return row

    return _Printer(tuple(columns), cells)


# --------------------------------------------------------------------------- the Table


def _printer_for(rt: ResourceType) -> _Printer:
    if rt.custom:
        return _custom_printer(rt)
    return _BUILTIN.get((rt.group, rt.resource), _DEFAULT)


def _row_object(obj: Obj, include: str, api_version: str, rt: ResourceType) -> Any:
    if include == "None":
        return None
    if include == "Object":
        if "apiVersion" in obj and "kind" in obj:
            return obj
        return {"apiVersion": rt.api_version, "kind": rt.kind, **obj}
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": api_version,
        "metadata": obj.get("metadata") or {},
    }


def build_table(
    rt: ResourceType,
    objects: Sequence[dict[str, Any]],
    list_metadata: dict[str, Any],
    include_object: str = "Metadata",
    now: datetime | None = None,
    api_version: str = "meta.k8s.io/v1",
) -> dict[str, Any]:
    """The ``Table`` the real API server returns for ``objects`` of type ``rt``.

    ``include_object`` is the ``includeObject`` query parameter (empty means ``Metadata``);
    an unknown value or a non-Table ``api_version`` raises ``ValueError`` (a 400 / 406).
    """
    if include_object not in ("", *INCLUDE_OBJECT_POLICIES):
        raise ValueError(f'unrecognized includeObject value: "{include_object}"')
    group, _, version = api_version.partition("/")
    if group != TABLE_GROUP or version not in TABLE_VERSIONS:
        raise ValueError(f"no Table exists in group version {api_version}")
    now = now or datetime.now(UTC)
    printer = _printer_for(rt)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": printer.cells(obj, now)}
        conditions = printer.conditions(obj)
        if conditions:
            row["conditions"] = conditions
        row["object"] = _row_object(obj, include_object or "Metadata", api_version, rt)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": {k: v for k, v in list_metadata.items() if v is not None and v != ""},
        "columnDefinitions": [dict(c) for c in printer.columns],
        "rows": rows,
    }
