"""The ops a SavedModel's signatures can run, checked against ops that touch files or the world.

A SavedModel is a program: its graph may read or write files, list folders,
print, call Python or reach the network, and serving it would run those ops on
every request, or (through its ``__saved_model_init_op``) once at load. Before
TensorFlow loads a SavedModel, Moorings walks what the signatures can run: from
every signature's tensors back through the meta graph's nodes (data and control
inputs), into every function they call (``f``, branches, loop bodies, any
function-valued attribute, an op named after a library function), and on into
the functions those call. The save and restore functions TensorFlow keeps for
checkpoints are not reached from a signature, so the variables' restore at load
is not counted.

An op of :data:`REFUSED_OPS` found on that walk fails the load, naming the op,
the signature, and the ``model.toml`` key that allows it::

    [runtime]
    allowed_ops = ["PrintV2"]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from moorings.errors import LoadError

_GROUPS = (
    ("ReadFile MatchingFiles ImmutableConst", "reads the file system"),
    ("WriteFile MergeV2Checkpoints DatasetToTFRecord", "writes files"),
    ("Save SaveV2 SaveSlices SaveDataset SaveDatasetV2", "writes checkpoints or datasets"),
    (
        "Restore RestoreV2 RestoreSlice LoadAndRemapMatrix GenerateVocabRemapping",
        "reads checkpoints from a path it is given",
    ),
    (
        "WholeFileReader WholeFileReaderV2 TextLineReader TextLineReaderV2 FixedLengthRecordReader "
        "FixedLengthRecordReaderV2 TFRecordReader TFRecordReaderV2 LMDBReader IdentityReader "
        "IdentityReaderV2 ReaderRead ReaderReadV2",
        "reads files through a reader",
    ),
    (
        "TFRecordDataset TFRecordDatasetV2 TextLineDataset FixedLengthRecordDataset "
        "FixedLengthRecordDatasetV2 CSVDataset CSVDatasetV2 ExperimentalCSVDataset LMDBDataset "
        "ExperimentalLMDBDataset SqlDataset ExperimentalSqlDataset LoadDataset SnapshotDataset "
        "SnapshotDatasetV2 CacheDataset CacheDatasetV2",
        "reads or writes files as a dataset",
    ),
    ("Print PrintV2", "prints to the server's output"),
    ("PyFunc PyFuncStateless EagerPyFunc", "calls Python code"),
    (
        "CreateSummaryFileWriter CreateSummaryDbWriter WriteSummary WriteScalarSummary "
        "WriteHistogramSummary WriteImageSummary WriteAudioSummary WriteGraphSummary "
        "WriteRawProtoSummary ImportEvent FlushSummaryWriter CloseSummaryWriter",
        "writes summary files",
    ),
    ("DebugIdentity DebugIdentityV2 DebugIdentityV3", "dumps tensors to files"),
    ("DecodeProtoV2 EncodeProto", "may read a descriptor file it names"),
    ("Rpc TryRpc", "calls other servers"),
    ("FileSystemSetConfiguration", "changes file system settings"),
)
#: op -> what it does that a served model should not do unasked
REFUSED_OPS: dict[str, str] = {op: why for ops, why in _GROUPS for op in ops.split()}


def _called_functions(node: Any, library: dict[str, Any]) -> Iterable[str]:
    """Names of the library functions a node calls: function-valued attributes and op names."""
    if node.op in library:
        yield node.op
    for value in node.attr.values():
        kind = value.WhichOneof("value")
        if kind == "func":
            yield value.func.name
        elif kind == "list":
            for func in value.list.func:
                yield func.name


def _node_name(tensor: str) -> str:
    """``"^name"``, ``"name:0"`` or ``"name:out:0"`` -> ``"name"``."""
    return tensor.lstrip("^").split(":", 1)[0]


def reachable_ops(meta_graph: Any, tensor_names: Iterable[str]) -> dict[str, str]:
    """Every op the graph runs to compute ``tensor_names``: op -> the node or function where seen."""
    graph = meta_graph.graph_def
    nodes = {node.name: node for node in graph.node}
    library = {f.signature.name: f for f in graph.library.function}
    found: dict[str, str] = {}
    pending = [_node_name(t) for t in tensor_names]
    seen_nodes: set[str] = set()
    functions: list[str] = []
    while pending:
        name = pending.pop()
        if name in seen_nodes or name not in nodes:
            continue
        seen_nodes.add(name)
        node = nodes[name]
        found.setdefault(node.op, f"node {name!r}")
        pending.extend(_node_name(i) for i in node.input)
        functions.extend(_called_functions(node, library))
    seen_functions: set[str] = set()
    while functions:
        fname = functions.pop()
        if fname in seen_functions or fname not in library:
            continue
        seen_functions.add(fname)
        for node in library[fname].node_def:
            found.setdefault(node.op, f"function {fname!r}")
            functions.extend(_called_functions(node, library))
    return found


def signature_tensors(signature: Any) -> list[str]:
    return [t.name for t in (*signature.inputs.values(), *signature.outputs.values()) if t.name]


#: TF1 collections naming the ops a session loader runs once at load
INIT_COLLECTIONS = ("saved_model_main_op", "legacy_init_op", "main_op")


def _roots(meta_graph: Any) -> dict[str, list[str]]:
    """What to walk from: each signature's tensors, and the TF1 init ops."""
    roots = {
        key: signature_tensors(meta_graph.signature_def[key]) for key in sorted(meta_graph.signature_def)
    }
    for collection in INIT_COLLECTIONS:
        if collection in meta_graph.collection_def:
            roots["__saved_model_init_op"] = [
                *roots.get("__saved_model_init_op", []),
                *meta_graph.collection_def[collection].node_list.value,
            ]
    return roots


def check_ops(meta_graph: Any, allowed: Iterable[str] = ()) -> None:
    """LoadError naming the first refused op a signature (or the init op) runs and how to allow it."""
    permitted = set(allowed)
    for key, tensors in _roots(meta_graph).items():
        ops = reachable_ops(meta_graph, tensors)
        for op in sorted(ops):
            if op in REFUSED_OPS and op not in permitted:
                what = "the init op" if key == "__saved_model_init_op" else f"signature {key!r}"
                raise LoadError(
                    f"the SavedModel's {what} runs op {op} ({ops[op]}), which {REFUSED_OPS[op]}; Moorings "
                    f'refuses it unless model.toml allows it: [runtime] allowed_ops = ["{op}"]'
                )
