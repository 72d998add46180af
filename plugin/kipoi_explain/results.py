"""Result types shared by every method, writer, and the gRPC service.

Every array is in the public layout: one-hot float32 ``(N, L, 4)``, alphabet A, C, G, T, in the
coordinates of the sequences the user gave. A dict field holds metadata (settings, target,
model description) and travels as the JSON the writers store (:func:`plain`), unless its
metadata says ``{"arrays": True}`` (scores by name). A field whose metadata holds :data:`ROWS`
has one row per sample: results of consecutive parts of a set of samples are combined along
those (:func:`kipoi_explain.combine.concatenate`), the other fields must agree.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: Field metadata of a field with one row (array row, list item) per sample.
ROWS = {"rows": True}


@dataclass(frozen=True)
class Interval:
    """A genomic window (0-based, half-open) that one input sequence was read from.

    ``reverse`` is True when the sequence is the window's reverse complement (a ``-`` strand
    interval read with ``use_strand``): position ``i`` of the sequence is then genome position
    ``end - 1 - i``.
    """

    chrom: str
    start: int
    end: int
    name: str = ""
    strand: str = "."
    reverse: bool = False

    def to_genome(self, start: int, end: int) -> tuple[int, int]:
        """Genome coordinates of the half-open span ``[start, end)`` of the sequence."""
        if self.reverse:
            return self.end - end, self.end - start
        return self.start + start, self.start + end

    def spans_to_genome(self, spans) -> np.ndarray:
        """:meth:`to_genome` of every row of ``spans`` ``(k, 2)``; a row of -1 (a span
        without bases) stays -1."""
        spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
        mapped = self.end - spans[:, ::-1] if self.reverse else self.start + spans
        return np.where(spans[:, :1] >= 0, mapped, -1)

    def __str__(self) -> str:
        return f"{self.chrom}:{self.start}-{self.end}"


@dataclass
class MethodScores:
    """What one attribution method computes for a batch; :func:`explain` wraps it in an
    :class:`Attribution` with the inputs, predictions and settings."""

    scores: np.ndarray
    hypothetical: np.ndarray | None = None
    delta: np.ndarray | None = None
    extra: dict[str, np.ndarray] | None = None
    #: The model's outputs for the inputs, where the method computed them on its way
    #: (:func:`explain` then does not run them again).
    predictions: np.ndarray | None = None


@dataclass
class Prediction:
    """A model's predictions for a batch of samples, and what they are of.

    Attributes
    ----------
    predictions : numpy.ndarray
        ``(N, *output_shape)`` float32.
    output_names : list of str
        The model's output names (its last output axis).
    names : list of str
        One name per sample.
    intervals : list of Interval or None
        Genomic source of each sequence, when the inputs were BED intervals.
    settings : dict
        How they were computed (batch size, ``ambiguous``, version).
    model : dict
        The model's description.
    """

    predictions: np.ndarray
    output_names: list[str]
    names: list[str]
    intervals: list[Interval] | None = None
    settings: dict = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.predictions.shape[0]


@dataclass
class Attribution:
    """Attribution scores for a batch of sequences, with everything needed to reproduce them.

    For a model of features (no DNA), ``scores`` and ``inputs`` are ``(N, *shape)`` (one score
    per feature), ``hypothetical`` is None, and :meth:`position_importance` does not apply.

    Attributes
    ----------
    scores : numpy.ndarray
        ``(N, L, 4)`` float32 contribution of each base at each position to the target.
    method : str
        Name of the method that produced the scores (``"deepshap"``, ``"ism"``, ...).
    target : dict
        The resolved target: output ``indices``, output ``names`` and how they were ``reduce``-d.
    predictions : numpy.ndarray
        ``(N, T)`` model predictions for the inputs, all outputs.
    inputs : numpy.ndarray
        ``(N, L, 4)`` one-hot inputs the scores refer to.
    settings : dict
        Every option the method ran with, defaults included, so a run can be repeated.
    delta : numpy.ndarray or None
        ``(N,)`` completeness gap ``sum(scores) - (f(x) - f(baseline))`` where the method defines one
        (integrated gradients, DeepLIFT, DeepSHAP, expected gradients).
    hypothetical : numpy.ndarray or None
        ``(N, L, 4)`` hypothetical contributions: what each base would contribute if it were present
        at that position, as TF-MoDISco expects.
    names : list of str
        One name per sequence (FASTA record, BED name or ``seq{i}``).
    intervals : list of Interval or None
        Genomic source of each sequence, when the inputs were BED intervals.
    extra_scores : dict of str to numpy.ndarray, or None
        For a model with differentiable extra inputs (tracks, features) and a method that
        attributes to them (saliency, grad_x_input, smoothgrad, integrated_gradients with
        ``inputs_baseline="zeros"``): each such input's scores,
        ``(N, *shape)`` in the public layout (tracks ``(N, L, C)``).
    """

    scores: np.ndarray = field(metadata=ROWS)
    method: str
    target: dict
    predictions: np.ndarray = field(metadata=ROWS)
    inputs: np.ndarray = field(metadata=ROWS)
    settings: dict = field(default_factory=dict)
    delta: np.ndarray | None = field(default=None, metadata=ROWS)
    hypothetical: np.ndarray | None = field(default=None, metadata=ROWS)
    names: list[str] = field(default_factory=list, metadata=ROWS)
    intervals: list[Interval] | None = field(default=None, metadata=ROWS)
    model: dict[str, Any] = field(default_factory=dict)
    extra_scores: dict[str, np.ndarray] | None = field(default=None,
                                                       metadata={"arrays": True, **ROWS})

    def __len__(self) -> int:
        return self.scores.shape[0]

    def position_importance(self) -> np.ndarray:
        """``(N, L)`` importance of each position: the score of the base that is present.

        For ISM, where the present base scores 0 by definition, it is the mean effect of
        mutating the position away, sign-flipped so that positions the prediction relies on
        score high.
        """
        if self.method == "ism":
            return -self.scores.sum(axis=-1) / 3.0
        return (self.scores * self.inputs).sum(axis=-1)


@dataclass
class AttentionMaps:
    """Attention probabilities of a model's attention layers for a batch of sequences.

    Attributes
    ----------
    maps : numpy.ndarray
        ``(N, layers, heads, queries, keys)`` float32 attention probabilities, unreduced; each
        row (over keys) sums to 1.
    layers : list of str
        Attention layers, in forward order (the ``layers`` axis).
    heads : list of int
        Head indices (the ``heads`` axis).
    reduce : str or None
        The reduction ``reduced`` holds: None, ``heads``, ``layers``, ``mean`` or ``rollout``.
    reduced : numpy.ndarray
        ``maps`` reduced, and cut to each sequence's query row when ``query`` was given (the
        queries axis is then dropped).
    query : numpy.ndarray or None
        ``(N,)`` query token of each sequence, when a query position was given.
    query_positions, key_positions : TokenPositions
        Base coordinates of the query and key tokens in the input sequences
        (:class:`~kipoi_explain.attention_maps.positions.TokenPositions`).
    predictions : numpy.ndarray
        ``(N, T)`` model predictions for the inputs.
    inputs : numpy.ndarray
        ``(N, L, 4)`` one-hot inputs.
    names : list of str
        One name per sequence.
    intervals : list of Interval or None
        Genomic source of each sequence, when the inputs were BED intervals.
    settings : dict
        Every option the maps were computed with.
    model : dict
        The model's description.
    """

    maps: np.ndarray
    layers: list[str]
    heads: list[int]
    reduce: str | None
    reduced: np.ndarray
    query: np.ndarray | None
    query_positions: Any
    key_positions: Any
    predictions: np.ndarray
    inputs: np.ndarray
    names: list[str] = field(default_factory=list)
    intervals: list[Interval] | None = None
    settings: dict = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.maps.shape[0]

    def genome_spans(self, index: int, keys: bool = True) -> np.ndarray:
        """``(T, 2)`` genome span of each key (or query) token of sequence ``index``; -1 for a
        token without bases. Needs sequences read from intervals."""
        if self.intervals is None:
            raise ValueError("the sequences were not read from genome intervals")
        spans = (self.key_positions if keys else self.query_positions).spans
        return self.intervals[index].spans_to_genome(spans)


@dataclass
class EntityImportance:
    """Importance of the named entities (SNPs, genes, pathways) of one level of a transparent
    model, per sample.

    Attributes
    ----------
    level : str
        The entity level (``snp``, ``gene``, ``pathway``, ...).
    layer : str
        The layer whose units are the entities (``input`` for the input features).
    method : str
        ``grad_x_activation``, ``integrated_gradients`` or ``ablation``.
    entities : list of str
        Entity names, in unit order.
    scores : numpy.ndarray
        ``(N, entities)`` float32 importance of each entity for each sample's target.
    target : dict
        The resolved target.
    predictions : numpy.ndarray
        ``(N, T)`` model predictions for the samples.
    samples : list of str
        Sample names.
    delta : numpy.ndarray or None
        ``(N,)`` completeness gap ``sum(scores) - (f(x) - f(baseline))`` (integrated gradients).
    settings : dict
        Every option the scores were computed with.
    model : dict
        The model's description.
    """

    level: str
    layer: str
    method: str
    entities: list[str]
    scores: np.ndarray
    target: dict
    predictions: np.ndarray
    samples: list[str]
    delta: np.ndarray | None = None
    settings: dict = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.scores.shape[0]

    def table(self) -> pd.DataFrame:
        """One row per entity, most important first: ``rank``, ``entity``, ``level``,
        ``layer``, ``unit`` (index in the layer), ``mean`` (signed mean score), ``mean_abs``
        (what the rank orders by), ``std`` and ``n_samples``."""
        mean_abs = np.abs(self.scores).mean(axis=0)
        order = np.argsort(-mean_abs, kind="stable")
        return pd.DataFrame({
            "rank": np.arange(1, len(order) + 1), "entity": [self.entities[i] for i in order],
            "level": self.level, "layer": self.layer, "unit": order,
            "mean": self.scores.mean(axis=0)[order], "mean_abs": mean_abs[order],
            "std": self.scores.std(axis=0)[order], "n_samples": len(self.scores)})

    def ranking(self) -> list[str]:
        """Entity names, most important (largest mean absolute score) first."""
        return self.table()["entity"].tolist()


@dataclass(frozen=True)
class MotifMatch:
    """One database motif matched to a query motif by TomTom.

    As in Tomtom: the query's first column is aligned to column ``offset`` of the database motif,
    or of its reverse complement when ``strand`` is ``"-"`` (negative when the query starts
    before it). ``q_value`` is Benjamini-Hochberg over the database, ``e_value`` the p-value
    times the number of database motifs (the expected number of matches this good by chance),
    ``overlap`` the columns the alignment shares.
    """

    id: str
    name: str
    p_value: float
    q_value: float
    offset: int
    strand: str
    e_value: float = float("nan")
    overlap: int = 0


@dataclass
class Motif:
    """A motif read from a model: a first-layer filter or a group of seqlets.

    Attributes
    ----------
    name : str
        ``"<layer>/filter_<i>"`` or ``"seqlets/<group>"``.
    pfm : numpy.ndarray
        ``(K, 4)`` position frequency matrix (rows sum to 1), A, C, G, T.
    pwm : numpy.ndarray
        ``(K, 4)`` log2-odds against the background.
    information_content : numpy.ndarray
        ``(K,)`` bits per position.
    n_sites : int
        Sequence windows the PFM was built from (0 for a weight-derived PFM).
    core : (int, int)
        Half-open span of positions left after trimming low-information flanks.
    matches : list of MotifMatch
        Database matches of the core, best first.
    details : dict
        Method-specific numbers, e.g. ``filter`` index, ``saturation`` and
        ``activation_correlation`` for weight-derived PFMs.
    """

    name: str
    pfm: np.ndarray
    pwm: np.ndarray
    information_content: np.ndarray
    n_sites: int
    core: tuple[int, int]
    matches: list[MotifMatch] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    @property
    def best(self) -> MotifMatch | None:
        return self.matches[0] if self.matches else None


@dataclass
class MotifSet:
    """Motifs from one run, with the database they were matched against and the settings."""

    motifs: list[Motif]
    method: str
    database: dict
    settings: dict = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.motifs)

    def __getitem__(self, index) -> Motif:
        return self.motifs[index]


@dataclass
class ModiscoResult:
    """TF-MoDISco patterns of an attribution, matched to a motif database.

    Attributes
    ----------
    patterns : list of Motif
        One per pattern, named as modisco-lite's report names them
        (``pos_patterns.pattern_0``): the frequency matrix of the span its contribution weight
        matrix keeps (``details["span"]`` in the pattern), ``n_sites`` its seqlets, its
        database matches.
    cwms : list of numpy.ndarray
        ``(K, 4)`` contribution weight matrix of each pattern over the same span.
    hdf5 : numpy.ndarray
        uint8 bytes of ``modisco_results.h5`` as modisco-lite's ``save_hdf5`` wrote it (every
        pattern, its seqlets and sub-patterns), so that it travels as it is.
    method : str
        The attribution method.
    target, database, settings, model : dict
        The resolved target, the database matched against, every option, the model.
    """

    patterns: list[Motif]
    cwms: list[np.ndarray]
    hdf5: np.ndarray
    method: str
    target: dict
    database: dict
    settings: dict = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.patterns)


@dataclass
class Seqlets:
    """Seqlets called from an attribution, with their database matches and groups.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per seqlet, ordered by sequence and start. ``seq`` (index of the sequence),
        ``name``, ``start``, ``end`` (half-open, in the sequence); ``chrom``, ``genome_start``,
        ``genome_end`` (genome span, mirrored for reverse-complemented windows; missing when the
        sequences were not read from intervals); ``attribution`` (summed importance) and
        ``p_value`` from the seqlet caller, a ranking score rather than an error rate; the best
        database match ``match_id``, ``match_name``, ``match_p``, ``match_q``, ``strand`` and
        ``offset`` (TomTom's, see :class:`~kipoi_explain.results.MotifMatch`); ``group``, the
        ``"{id} {name}"`` of the match when ``match_q <= max_q``, else ``"unmatched"``.
    groups : list of Motif
        One :class:`~kipoi_explain.results.Motif` per group, named ``"seqlets/<group>"``, the
        largest first and ``"seqlets/unmatched"`` last.
    database : dict
        Description of the motif database the seqlets were matched against.
    settings : dict
        The arguments the seqlets were called with.
    """

    table: pd.DataFrame
    groups: list[Motif] = field(default_factory=list)
    database: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.table)


@dataclass
class VariantEffect:
    """The effect of one ALT allele on the model's predictions, and optionally why.

    Attributes
    ----------
    chrom, pos, id, ref, alt : str, int, str or None, str, str or None
        The allele as the VCF gives it (``pos`` 1-based).
    record_index, alt_index : int
        Which VCF record (0-based) and which of its ALT alleles.
    status : str
        ``"OK"``, or why the allele was not scored (see ``kipoi_explain.variants.STATUSES``).
    outputs : tuple of str
        Names of the scored model outputs, the order of every score array.
    scores : dict of str to numpy.ndarray
        ``ref``, ``alt`` (predictions), ``diff`` (alt - ref) and ``logit_diff`` (log odds
        ratio; NaN for outputs outside (0, 1)), one value per output; with a null
        distribution also ``pval`` and ``pctl`` (empirical p-value and percentile of
        ``|diff|``). Empty unless OK.
    window_start : int or None
        0-based genome position of the reference window.
    alt_to_ref : numpy.ndarray or None
        ``(L,)`` genome position of each alternative-window base, -1 for inserted bases.
    attribution : dict or None
        With a method: ``ref`` and ``alt`` maps ``(L, 4)`` in their own windows, ``diff`` = alt
        mapped onto the reference window minus ref, and ``local``/``total`` sums of the change
        in position importance near the variant / over the window.
    motif : dict or None
        With a motif database: the motif whose best score over placements overlapping the
        variant changes most among those with a site (p <= 1e-4) in either allele,
        ``{"id", "name", "ref", "alt", "delta", "log10_p_change"}``: its best log-odds scores
        (bits), their change, and the change of -log10 p (negative: disrupted, positive:
        created). None if no motif has a site there.
    record : object
        The pysam record the allele came from (for writers that copy its fields).
    detail : str or None
        What the status found, where it says more than the status: for ``REF_MISMATCH`` the
        bases the FASTA holds there (``"FASTA has ACG at chr1:4000"``).
    """

    chrom: str
    pos: int
    id: str | None
    ref: str
    alt: str | None
    record_index: int
    alt_index: int
    status: str
    outputs: tuple[str, ...] = ()
    scores: dict = field(default_factory=dict, metadata={"arrays": True})
    window_start: int | None = None
    alt_to_ref: np.ndarray | None = None
    attribution: dict | None = field(default=None, metadata={"arrays": True})
    motif: dict | None = None
    record: object = field(default=None, repr=False, metadata={"wire": False})
    detail: str | None = None

    @property
    def key(self) -> str:
        """``CHROM:POS:REF:ALT``, how attribution files index variants."""
        return f"{self.chrom}:{self.pos}:{self.ref}:{self.alt or '.'}"


SEVERITIES = ("info", "warning", "error")


@dataclass
class Finding:
    """One measured statement about a model, from one diagnostic check.

    Attributes
    ----------
    check : str
        The check that made it: ``filter_scaling``, ``redundancy``, ``gradient_saturation``,
        ``attention_conditioning``, ``constraint_cost``, ``randomization_sanity`` or
        ``method_agreement``.
    severity : {"info", "warning", "error"}
        ``info`` reports a measurement that needs no action; ``warning`` and ``error`` flag an
        explanation that should not be trusted as is.
    value : float, int or None
        The measured number the severity was decided on.
    threshold : float or None
        The value at which this finding would change severity.
    where : dict
        What it concerns: ``layer`` and ``units`` / ``filters`` / ``heads`` indices, ``method``,
        ``sequences``, as applicable.
    recommendation : str
        What to do about it.
    message : str
        One sentence saying what was measured.
    details : dict
        Further measured numbers (per unit, per layer, per method).
    """

    check: str
    severity: str
    value: float | int | None
    threshold: float | None
    where: dict
    recommendation: str
    message: str = ""
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r}: expected one of {SEVERITIES}")
        self.where = plain(self.where)

    @property
    def flagged(self) -> bool:
        """Warnings and errors, and measured findings that recommend an action."""
        return self.severity != "info" or (self.value is not None and advises(
            self.recommendation))

    def as_dict(self) -> dict:
        return {"check": self.check, "severity": self.severity, "value": plain(self.value),
                "threshold": plain(self.threshold), "where": plain(self.where),
                "recommendation": self.recommendation, "message": self.message,
                "details": plain(self.details)}


@dataclass
class Diagnosis:
    """Findings of :func:`kipoi_explain.diagnostics` about one model, and what they were
    measured on.

    Attributes
    ----------
    model : dict
        The model's description (name, framework, fingerprint, ...).
    findings : list of Finding
        Every check's findings, in the order the checks ran.
    measurements : dict
        Per check, the numbers behind its findings (per layer, per unit, per method), which
        the report's plots draw.
    settings : dict
        Checks run, target, sequences used, seed and thresholds, so the run can be repeated.
    verdict : dict
        Which attribution methods to trust for this model and why, derived from the findings
        (see :func:`kipoi_explain.diagnostics.verdict.verdict`); ``text`` says it in words.
    """

    model: dict
    findings: list[Finding]
    measurements: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    verdict: dict = field(default_factory=dict)

    #: Version of the JSON layout written by :meth:`as_dict`; changes only incompatibly.
    SCHEMA_VERSION = 1

    def flagged(self, check: str | None = None) -> list[Finding]:
        """Flagged findings (see :attr:`Finding.flagged`), of one check or of all."""
        return [f for f in self.findings if f.flagged and check in (None, f.check)]

    def as_dict(self) -> dict:
        document = {"schema_version": self.SCHEMA_VERSION, "model": plain(self.model),
                    "settings": plain(self.settings),
                    "findings": [f.as_dict() for f in self.findings],
                    "measurements": plain(self.measurements)}
        if self.verdict:
            document["verdict"] = plain(self.verdict)
        return document


def advises(recommendation: str) -> bool:
    """Whether a finding's recommendation asks for an action (not empty, not "none needed")."""
    return bool(recommendation) and not recommendation.startswith("none needed")


def plain(value):
    """Numpy scalars and arrays as JSON-ready Python values (NaN and inf as None)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, (np.integer, bool, np.bool_)):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if np.isfinite(value) else None
    if callable(value):
        return getattr(value, "__name__", type(value).__name__)
    return value


@dataclass
class Screen:
    """Effect on the target of perturbing each window of each sequence (a region screen), or
    of implanting an element at each position (an insertion screen).

    Attributes
    ----------
    effects : numpy.ndarray
        ``(N, W)`` float32 mean over replicates of ``f(perturbed) - f(x)`` for the target:
        negative where the window supports the target.
    perturbed : numpy.ndarray
        ``(N, W, R)`` float32 target values of the perturbed sequences, one per replicate.
    starts, ends : numpy.ndarray
        ``(W,)`` int64 half-open span ``[start, end)`` of each window (the implanted element's
        span for an insertion screen), in sequence coordinates.
    reference : numpy.ndarray
        ``(N,)`` float32 target values ``f(x)`` of the unperturbed sequences.
    perturbation : str
        ``shuffle``, ``random``, ``mask``, ``delete`` (a window screen), or ``replace``,
        ``insert`` (an insertion screen).
    target : dict
        The resolved target.
    predictions : numpy.ndarray
        ``(N, *output shape)`` model predictions for the unperturbed sequences.
    names : list of str
        One name per sequence.
    intervals : list of Interval or None
        Genomic source of each sequence, when the sequences were BED intervals.
    settings : dict
        Every option the screen ran with, defaults included.
    model : dict
        The model's description.
    """

    effects: np.ndarray = field(metadata=ROWS)
    perturbed: np.ndarray = field(metadata=ROWS)
    starts: np.ndarray
    ends: np.ndarray
    reference: np.ndarray = field(metadata=ROWS)
    perturbation: str
    target: dict
    predictions: np.ndarray = field(metadata=ROWS)
    names: list[str] = field(metadata=ROWS)
    intervals: list[Interval] | None = field(default=None, metadata=ROWS)
    settings: dict = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.effects.shape[0]

    def genome_windows(self) -> np.ndarray | None:
        """``(N, W, 2)`` int64 genome coordinates ``[start, end)`` of every window of every
        sequence (mirrored for reverse-complemented intervals), or None without intervals."""
        if self.intervals is None:
            return None
        windows = np.stack([self.starts, self.ends], axis=1)
        return np.stack([interval.spans_to_genome(windows) for interval in self.intervals])

    def table(self) -> pd.DataFrame:
        """One row per sequence and window, sequence-major: ``sequence`` (name), ``index``,
        ``window``, ``start``, ``end`` (sequence coordinates), then with intervals ``chrom``,
        ``genome_start``, ``genome_end``; ``reference`` (f(x)), ``perturbed`` (mean over
        replicates), ``sd`` (their standard deviation, 0 for one replicate) and ``effect``."""
        n, w = self.effects.shape
        index, window = np.divmod(np.arange(n * w), w)
        columns = {"sequence": [self.names[i] for i in index], "index": index,
                   "window": window, "start": self.starts[window], "end": self.ends[window]}
        coordinates = self.genome_windows()
        if coordinates is not None:
            columns["chrom"] = [self.intervals[i].chrom for i in index]
            columns["genome_start"] = coordinates[..., 0].ravel()
            columns["genome_end"] = coordinates[..., 1].ravel()
        columns.update(reference=self.reference[index],
                       perturbed=self.perturbed.mean(axis=2).ravel(),
                       sd=self.perturbed.std(axis=2).ravel(), effect=self.effects.ravel())
        return pd.DataFrame(columns)


def _spread(effects: np.ndarray, axis: int = -1) -> dict[str, np.ndarray]:
    """Mean, standard deviation and standard error of ``effects`` along the backgrounds."""
    effects = np.asarray(effects, dtype=np.float64)
    n = effects.shape[axis]
    sd = effects.std(axis=axis, ddof=1) if n > 1 else np.zeros(effects.shape[:-1])
    return {"mean": effects.mean(axis=axis), "sd": sd, "sem": sd / np.sqrt(n)}


@dataclass
class Marginalization:
    """The target on backgrounds, alone and with each motif implanted (a marginalization).

    Attributes
    ----------
    motifs : list of str
        One label per motif (``ID NAME`` for a database motif, the bases for DNA).
    sequences : list of str
        The bases implanted (a motif's consensus).
    starts : numpy.ndarray
        ``(M,)`` int64 where each motif starts.
    background : numpy.ndarray
        ``(B,)`` float32 target on each background.
    implanted : numpy.ndarray
        ``(M, B)`` float32 target with the motif implanted into each background.
    target, settings, model : dict
        The resolved target, every option, the model's description.
    """

    motifs: list[str]
    sequences: list[str]
    starts: np.ndarray
    background: np.ndarray
    implanted: np.ndarray
    target: dict
    settings: dict = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)

    @property
    def effects(self) -> np.ndarray:
        """``(M, B)`` change of the target each motif makes on each background."""
        return self.implanted - self.background[None]

    def table(self) -> pd.DataFrame:
        """One row per motif: ``motif``, ``sequence``, ``start``, ``n`` (backgrounds),
        ``background`` and ``implanted`` (means), ``effect`` (mean change) with its ``sd`` and
        ``sem`` over the backgrounds."""
        spread = _spread(self.effects)
        return pd.DataFrame({
            "motif": self.motifs, "sequence": self.sequences, "start": self.starts,
            "n": self.background.size, "background": float(self.background.mean()),
            "implanted": self.implanted.mean(axis=1), "effect": spread["mean"],
            "sd": spread["sd"], "sem": spread["sem"]})


@dataclass
class Spacing:
    """Two motifs implanted at each distance and orientation into backgrounds, and each alone
    at the same places (a spacing experiment).

    Attributes
    ----------
    motifs, sequences : list of str
        Labels and implanted bases of the first and the second motif.
    orientations : list of str
        Strands of the first and second motif (``+-``: the second reverse-complemented).
    distances : numpy.ndarray
        ``(D,)`` int64 centre-to-centre distances, the second motif to the right.
    first_start : int
        Where the first motif starts.
    second_starts : numpy.ndarray
        ``(D,)`` int64 where the second motif starts at each distance.
    background : numpy.ndarray
        ``(B,)`` float32 target on each background.
    first_alone : numpy.ndarray
        ``(O, B)`` float32 target with the first motif alone, in each orientation's strand.
    second_alone : numpy.ndarray
        ``(O, D, B)`` float32 target with the second motif alone at each distance's place.
    both : numpy.ndarray
        ``(O, D, B)`` float32 target with both motifs.
    target, settings, model : dict
    """

    motifs: list[str]
    sequences: list[str]
    orientations: list[str]
    distances: np.ndarray
    first_start: int
    second_starts: np.ndarray
    background: np.ndarray
    first_alone: np.ndarray
    second_alone: np.ndarray
    both: np.ndarray
    target: dict
    settings: dict = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)

    def cooperativity(self) -> np.ndarray:
        """``(O, D, B)`` joint effect minus the sum of the single effects on each background:
        ``f(both) - f(first) - f(second) + f(background)``; 0 where the motifs act
        independently (additively on this output's scale)."""
        return (self.both - self.first_alone[:, None] - self.second_alone
                + self.background[None, None])

    def table(self) -> pd.DataFrame:
        """One row per orientation and distance: ``orientation``, ``distance``,
        ``second_start``, the means of ``both``, ``first_alone``, ``second_alone`` and
        ``background``, and ``cooperativity`` with its ``sd`` and ``sem``."""
        n_o, n_d = self.both.shape[:2]
        o, d = np.divmod(np.arange(n_o * n_d), n_d)
        spread = _spread(self.cooperativity())
        return pd.DataFrame({
            "orientation": [self.orientations[i] for i in o], "distance": self.distances[d],
            "second_start": self.second_starts[d], "both": self.both.mean(axis=2).ravel(),
            "first_alone": self.first_alone.mean(axis=1)[o],
            "second_alone": self.second_alone.mean(axis=2).ravel(),
            "background": float(self.background.mean()),
            "cooperativity": spread["mean"].ravel(), "sd": spread["sd"].ravel(),
            "sem": spread["sem"].ravel()})


@dataclass
class Hits:
    """Motif instances called in attribution maps (:func:`~kipoi_explain.hits`), one entry per
    hit, ordered by sequence and start.

    Attributes
    ----------
    seq : numpy.ndarray
        ``(K,)`` int64 index of the sequence each hit is in.
    start, end : numpy.ndarray
        ``(K,)`` int64 half-open span of the hit in its sequence.
    motif : list of str
        The motif of each hit (one of ``motifs``).
    strand : list of str
        ``+`` where the motif's CWM matched, ``-`` where its reverse complement did, on the
        sequence as given.
    attribution : numpy.ndarray
        ``(K,)`` sum of the contributions (importance of the present bases) in the hit.
    similarity : numpy.ndarray
        ``(K,)`` cosine similarity of the hit's contributions ``(W, 4)`` with the CWM.
    weight : numpy.ndarray
        ``(K,)`` projection of the contributions on the unit-norm CWM (similarity times the
        contributions' norm): the score the threshold applies to.
    p_value : numpy.ndarray
        ``(K,)`` float64 fraction of background windows (permuted contribution maps) whose
        weight reaches the hit's, ``(1 + count) / (1 + n)``.
    names : list of str
        The name of every sequence.
    motifs : list of str
        Every motif scanned for.
    thresholds : numpy.ndarray
        ``(M,)`` weight threshold of each motif, calibrated on the background.
    method : str
        The attribution method.
    target, settings, model : dict
        The resolved target, every option, the model's description.
    intervals : list of Interval or None
        Genomic source of each sequence, when the inputs were BED intervals.
    ablation : numpy.ndarray or None
        ``(K,)`` mean change of the target when the hit's bases are replaced by the same
        positions of dinucleotide shuffles of its sequence (with ``ablate``).
    """

    seq: np.ndarray
    start: np.ndarray
    end: np.ndarray
    motif: list[str]
    strand: list[str]
    attribution: np.ndarray
    similarity: np.ndarray
    weight: np.ndarray
    p_value: np.ndarray
    names: list[str]
    motifs: list[str]
    thresholds: np.ndarray
    method: str
    target: dict
    settings: dict = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    intervals: list[Interval] | None = None
    ablation: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.seq)

    def table(self) -> pd.DataFrame:
        """One row per hit, sorted by ``chrom`` and ``start``: ``chrom``, ``start``, ``end``
        (genome coordinates for sequences read from intervals, mirrored for a reverse-
        complemented window; else the sequence's name and the offset in it), ``motif``,
        ``score`` (similarity x 1000, as an integer), ``strand`` (on the genome), then
        ``attribution``, ``similarity``, ``weight``, ``p_value``, ``ablation`` (when computed),
        ``sequence`` (the sequence's name) and ``seq_start`` (the offset in it)."""
        spans = np.stack([self.start, self.end], axis=1).astype(np.int64)
        strand = np.array(self.strand, dtype=object)
        if self.intervals is None:
            chrom = [self.names[i] for i in self.seq]
        else:
            chrom = [self.intervals[i].chrom for i in self.seq]
            reverse = np.array([self.intervals[i].reverse for i in self.seq], dtype=bool)
            spans = np.stack([self.intervals[i].to_genome(s, e)
                              for i, s, e in zip(self.seq, self.start, self.end)]) \
                if len(self) else spans
            strand = np.where(reverse, np.where(strand == "+", "-", "+"), strand)
        table = pd.DataFrame({
            "chrom": chrom, "start": spans[:, 0], "end": spans[:, 1], "motif": self.motif,
            "score": np.rint(np.clip(self.similarity, 0, 1) * 1000).astype(np.int64),
            "strand": strand.astype(str), "attribution": self.attribution,
            "similarity": self.similarity, "weight": self.weight, "p_value": self.p_value})
        if self.ablation is not None:
            table["ablation"] = self.ablation
        table["sequence"] = [self.names[i] for i in self.seq]
        table["seq_start"] = np.asarray(self.start, dtype=np.int64)
        return table.sort_values(["chrom", "start", "end", "motif"], kind="stable") \
            .reset_index(drop=True)


@dataclass
class Evaluation:
    """Explanation methods benchmarked on one model (:func:`~kipoi_explain.evaluate`).

    Attributes
    ----------
    table : list of dict
        One row per method and metric: ``method`` (``"saliency+corrected"`` for a run with
        gradient correction), ``metric`` (see :data:`kipoi_explain.evaluation.metrics.METRICS`),
        ``mean`` over the sequences with a value, 95 % bootstrap interval ``lo``/``hi``, ``n``.
    per_sequence : dict of str to numpy.ndarray
        ``"method|metric"`` -> ``(N,)`` value of every sequence (NaN where undefined).
    curves : dict of str to numpy.ndarray
        ``"roc|method"`` (true-positive rate on a 101-point false-positive-rate grid),
        ``"pr|method"`` (interpolated precision on a recall grid), and the deletion and
        insertion curves when they were measured.
    cost : dict of str to float
        Seconds of each method's run divided by one batched forward pass over the same
        sequences: forward-pass equivalents.
    verdict : dict
        Methods ranked per metric and overall, the ones to trust, the change gradient
        correction brings, and the verdict as a sentence (``text``).
    names : list of str
        The sequences evaluated.
    settings, model : dict
    """

    table: list[dict]
    per_sequence: dict[str, np.ndarray] = field(default_factory=dict, metadata={"arrays": True})
    curves: dict[str, np.ndarray] = field(default_factory=dict, metadata={"arrays": True})
    cost: dict[str, float] = field(default_factory=dict)
    verdict: dict = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """The table as a DataFrame, with each method's rank per metric (1 = best)."""
        table = pd.DataFrame(self.table, columns=["method", "metric", "mean", "lo", "hi", "n"])
        order = self.verdict.get("per_metric", {})
        table["rank"] = [order[m].index(k) + 1 if k in order.get(m, ()) else np.nan
                         for k, m in zip(table["method"], table["metric"])]
        return table
