"""Generate the bundled GenNet-style example: toy annotation, genotypes and model.

A transparent network whose hidden units are named genes and pathways is
trained on simulated genotypes in which one known gene drives the phenotype,
so that entity-importance methods can be checked against the truth: the
causal gene must rank first among genes, its pathway first among pathways and
its causal SNPs first among SNPs. The script checks exactly that with plain
PyTorch (gradient x activation and ablation) and fails if it does not hold.

Everything is seeded and offline; the annotation layout (SNPs per gene, gene
to pathway) comes from the constants in ``models/gennet/model.py``, so the
model, the annotation and ``entities.yaml`` cannot disagree.

Outputs (relative to ``--out``)::

    data/gennet_annotation.tsv  toy annotation: snp, chrom, pos, gene, pathway
    data/genotypes.tsv          200 held-out samples: sample + one dosage per SNP
    data/phenotypes.tsv         their simulated case status: sample, case
    models/gennet/              Kipoi model directory (kipoi.model.PyTorchModel)
                                with its own dataloader and entities.yaml

Usage::

    python examples/train_gennet.py                       # full run, writes examples/
    python examples/train_gennet.py --quick --out /tmp/smoke
"""
import shutil
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from sklearn.metrics import roc_auc_score
from synthetic import (fit_torch, import_module_file, parse_args, predict_torch, spawn_rngs,
                       write_tsv, write_yaml)

EXAMPLES_DIR = Path(__file__).resolve().parent
MODEL_SOURCE_DIR = EXAMPLES_DIR / "models" / "gennet"
# Hand-written files of the model directory; the script writes the rest.
MODEL_SOURCE_FILES = ("model.py", "dataloader.py", "dataloader.yaml")

SEED = 2024
CHROMOSOMES = ("chr1", "chr2", "chr3")
# The one gene with an effect. Deliberately neither the first nor the last
# gene of its pathway (PATH_C: GENE03, GENE07, GENE12, GENE17), nor the
# largest gene, and PATH_C is one of the smaller pathways: a method biased
# towards unit order or entity size cannot rank it first by accident.
CAUSAL_GENE = "GENE07"
# Positions of the causal SNPs within the causal gene's block of 11 SNPs.
CAUSAL_SNP_OFFSETS = (1, 4, 6, 9)
# Effect per standardised dosage; mixed signs so that importance methods
# must use magnitudes.
CAUSAL_BETAS = (0.6, -0.5, 0.5, -0.4)
# Heritability of the liability is 1.02 / (1.02 + 0.8**2) = 0.61, which caps
# the held-out AUROC of even the true liability score near 0.87.
NOISE_SD = 0.8
MAF_RANGE = (0.05, 0.5)

FULL_SIZES = {"n_train": 6_000, "n_test": 1_000, "n_eval": 200, "epochs": 40}
QUICK_SIZES = {"n_train": 512, "n_test": 256, "n_eval": 50, "epochs": 2}
BATCH_SIZE = 128
LEARNING_RATE = 1e-2
WEIGHT_DECAY = 1e-3

ENTITIES_COMMENT = "# Which units of the model are which biological entities (read by kipoi-explain)."


@dataclass(frozen=True)
class Annotation:
    """Toy SNP → gene → pathway annotation; index arrays follow input/unit order."""

    snp_ids: list[str]
    chrom: list[str]
    pos: list[int]
    snp_gene: np.ndarray
    gene_names: list[str]
    gene_pathway: np.ndarray
    pathway_names: list[str]

    def causal_snp_columns(self) -> list[int]:
        """Input columns of the causal SNPs, in :data:`CAUSAL_SNP_OFFSETS` order."""
        first = int(np.flatnonzero(self.snp_gene == self.gene_names.index(CAUSAL_GENE))[0])
        return [first + offset for offset in CAUSAL_SNP_OFFSETS]

    def causal_pathway(self) -> str:
        """Name of the pathway that holds :data:`CAUSAL_GENE`."""
        return self.pathway_names[self.gene_pathway[self.gene_names.index(CAUSAL_GENE)]]


def make_annotation(model_module, rng: np.random.Generator) -> Annotation:
    """Lay the genes of ``model.py`` out on three made-up chromosomes.

    Parameters
    ----------
    model_module : module
        The imported ``model.py``; its ``GENE_SIZES`` and ``GENE_PATHWAY``
        define which SNP belongs to which gene and gene to which pathway.
    rng : numpy.random.Generator
        Draws the gaps between genes and between SNPs.

    Returns
    -------
    Annotation
        SNPs ``rs0001``... in input order, genes ``GENE01``..., pathways
        ``PATH_A``...; consecutive genes share a chromosome in runs of about
        a third of the genes. Positions are 1-based and increasing per chromosome.
    """
    sizes = model_module.GENE_SIZES
    n_genes, n_snps = len(sizes), sum(sizes)
    gene_chrom = np.arange(n_genes) * len(CHROMOSOMES) // n_genes
    chrom, pos = [], []
    for gene, size in enumerate(sizes):
        if gene == 0 or gene_chrom[gene] != gene_chrom[gene - 1]:
            cursor = 1_000_000
        cursor += int(rng.integers(50_000, 200_000))
        for _ in range(size):
            cursor += int(rng.integers(1_000, 5_000))
            chrom.append(CHROMOSOMES[gene_chrom[gene]])
            pos.append(cursor)
    return Annotation(
        snp_ids=[f"rs{i + 1:04d}" for i in range(n_snps)],
        chrom=chrom,
        pos=pos,
        snp_gene=np.array(model_module.snp_gene_groups()),
        gene_names=[f"GENE{g + 1:02d}" for g in range(n_genes)],
        gene_pathway=np.array(model_module.GENE_PATHWAY),
        pathway_names=[f"PATH_{chr(ord('A') + p)}" for p in range(model_module.N_PATHWAYS)],
    )


def simulate_cohort(n: int, maf: np.ndarray, causal_columns: list[int],
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw genotypes and the liability of :data:`CAUSAL_GENE`'s model.

    Parameters
    ----------
    n : int
        Number of samples.
    maf : numpy.ndarray
        ``(n_snps,)`` minor allele frequency per SNP.
    causal_columns : list of int
        Input columns of the causal SNPs, matching :data:`CAUSAL_BETAS`.
    rng : numpy.random.Generator
        Random stream.

    Returns
    -------
    dosages : numpy.ndarray
        ``(n, n_snps)`` int64 minor-allele counts, Binomial(2, maf), in Hardy-Weinberg equilibrium.
    genetic : numpy.ndarray
        ``(n,)`` sum of beta x standardised dosage over the causal SNPs.
    liability : numpy.ndarray
        ``(n,)`` ``genetic`` plus Gaussian noise of standard deviation :data:`NOISE_SD`.
    """
    dosages = rng.binomial(2, maf, size=(n, len(maf)))
    p = maf[causal_columns]
    standardised = (dosages[:, causal_columns] - 2 * p) / np.sqrt(2 * p * (1 - p))
    genetic = standardised @ np.array(CAUSAL_BETAS)
    return dosages, genetic, genetic + rng.normal(0.0, NOISE_SD, size=n)


def train(model_module, x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> torch.nn.Module:
    """Train ``GenNet`` with Adam, binary cross-entropy and L2 weight decay.

    Parameters
    ----------
    model_module : module
        The imported ``model.py``.
    x : numpy.ndarray
        ``(N, n_snps)`` float32 dosages.
    y : numpy.ndarray
        ``(N, 1)`` float32 0/1 case labels.
    epochs : int
        Passes over the data.
    seed : int
        Seeds weight initialisation and batch order.

    Returns
    -------
    torch.nn.Module
        The trained model in eval mode.
    """
    torch.manual_seed(seed)
    model = model_module.GenNet()
    # Weight decay keeps the weights of genes without effect near zero, which
    # is what makes the learned entity importances sparse like the truth.
    return fit_torch(model, x, y, epochs, seed, BATCH_SIZE, LEARNING_RATE, tag="gennet",
                     weight_decay=WEIGHT_DECAY, log_every=10)


def gradient_x_activation(model: torch.nn.Module, layer: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """Mean ``|activation x d output / d activation|`` per output unit of ``layer``.

    Parameters
    ----------
    model : torch.nn.Module
        Model with a single output.
    layer : torch.nn.Module
        Submodule whose output units are the entities.
    x : numpy.ndarray
        ``(N, n_snps)`` float32 dosages.

    Returns
    -------
    numpy.ndarray
        ``(n_units,)`` importance, averaged over samples.
    """
    captured = {}
    handle = layer.register_forward_hook(lambda module, inputs, output: captured.update(act=output))
    try:
        output = model(torch.from_numpy(x))
    finally:
        handle.remove()
    # Samples do not interact, so the gradient of the summed output holds
    # every sample's own gradient.
    (grad,) = torch.autograd.grad(output.sum(), captured["act"])
    return (captured["act"] * grad).abs().mean(dim=0).detach().numpy()


def ablation(model: torch.nn.Module, layer: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """Mean ``|output change|`` when one output unit of ``layer`` is set to 0.

    Parameters
    ----------
    model : torch.nn.Module
        Model with a single output.
    layer : torch.nn.Module
        Submodule whose output units are the entities.
    x : numpy.ndarray
        ``(N, n_snps)`` float32 dosages.

    Returns
    -------
    numpy.ndarray
        ``(n_units,)`` importance, averaged over samples.
    """
    x_t = torch.from_numpy(x)
    zeroed = {}

    def zero_unit(module, inputs, output):
        # The first pass is left intact: it gives the reference output and
        # the number of units to ablate.
        if "unit" not in zeroed:
            zeroed["n_units"] = output.shape[1]
            return None
        output = output.clone()
        output[:, zeroed["unit"]] = 0.0
        return output

    handle = layer.register_forward_hook(zero_unit)
    try:
        with torch.no_grad():
            reference = model(x_t)[:, 0]
            changes = []
            for unit in range(zeroed["n_units"]):
                zeroed["unit"] = unit
                changes.append((model(x_t)[:, 0] - reference).abs().mean().item())
    finally:
        handle.remove()
    return np.array(changes)


def gradient_x_input(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """Mean ``|dosage x d output / d dosage|`` per SNP, shape ``(n_snps,)``."""
    x_t = torch.from_numpy(x).requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x_t).sum(), x_t)
    return (x_t * grad).abs().mean(dim=0).detach().numpy()


def rank_of(scores: np.ndarray, names: list[str], target: str) -> int:
    """1-based rank of ``target`` when ``names`` are sorted by decreasing score."""
    order = np.argsort(-scores, kind="stable")
    return int(np.flatnonzero(order == names.index(target))[0]) + 1


def summarise_ranking(label: str, scores: np.ndarray, names: list[str], target: str) -> dict:
    """Rank of ``target``, the top two entities and their scores, and log them.

    Returns
    -------
    dict
        ``rank`` of the target, ``top`` (best two as ``(name, score)``) and
        ``ratio`` of the best score to the second best.
    """
    order = np.argsort(-scores, kind="stable")
    top = [(names[i], float(scores[i])) for i in order[:2]]
    result = {"rank": rank_of(scores, names, target), "top": top, "ratio": top[0][1] / top[1][1]}
    print(f"  {label}: {target} ranks {result['rank']}/{len(names)}; first {top[0][0]} "
          f"{top[0][1]:.4g}, second {top[1][0]} {top[1][1]:.4g} (ratio {result['ratio']:.1f})",
          flush=True)
    return result


def check_entity_importance(model: torch.nn.Module, x: np.ndarray, annotation: Annotation) -> dict:
    """Rank genes, pathways and SNPs of held-out samples against the simulated truth.

    Parameters
    ----------
    model : torch.nn.Module
        Trained ``GenNet``.
    x : numpy.ndarray
        ``(N, n_snps)`` float32 held-out dosages.
    annotation : Annotation
        The annotation the model was built from.

    Returns
    -------
    dict
        Per level and method the summary of :func:`summarise_ranking`, plus
        ``snp_ranks`` (ranks of the causal SNPs by |gradient x input|) and
        ``snp_ratio`` (weakest causal SNP over the strongest other SNP).
    """
    pathway = annotation.causal_pathway()
    report = {
        "gene_grad_x_act": summarise_ranking(
            "genes, gradient x activation", gradient_x_activation(model, model.gene_act, x),
            annotation.gene_names, CAUSAL_GENE),
        "gene_ablation": summarise_ranking(
            "genes, ablation", ablation(model, model.gene_act, x), annotation.gene_names, CAUSAL_GENE),
        "pathway_grad_x_act": summarise_ranking(
            "pathways, gradient x activation", gradient_x_activation(model, model.pathway_act, x),
            annotation.pathway_names, pathway),
        "pathway_ablation": summarise_ranking(
            "pathways, ablation", ablation(model, model.pathway_act, x), annotation.pathway_names,
            pathway),
    }
    snp_scores = gradient_x_input(model, x)
    causal = annotation.causal_snp_columns()
    report["snp_ranks"] = sorted(rank_of(snp_scores, annotation.snp_ids, annotation.snp_ids[c])
                                 for c in causal)
    others = np.delete(snp_scores, causal)
    report["snp_ratio"] = float(snp_scores[causal].min() / others.max())
    print(f"  SNPs, |gradient x input|: causal SNPs "
          f"{', '.join(annotation.snp_ids[c] for c in causal)} rank {report['snp_ranks']} of "
          f"{len(snp_scores)}; weakest causal / strongest other = {report['snp_ratio']:.1f}", flush=True)
    return report


def truth_holds(report: dict) -> bool:
    """Whether every ranking in ``report`` puts the simulated truth first."""
    n_causal = len(CAUSAL_SNP_OFFSETS)
    return (all(report[key]["rank"] == 1 for key in
                ("gene_grad_x_act", "gene_ablation", "pathway_grad_x_act", "pathway_ablation"))
            and report["snp_ranks"] == list(range(1, n_causal + 1)))


def write_data(data_dir: Path, annotation: Annotation, dosages: np.ndarray, case: np.ndarray) -> None:
    """Write the annotation and the bundled evaluation genotypes and phenotypes."""
    data_dir.mkdir(parents=True, exist_ok=True)
    write_tsv(data_dir / "gennet_annotation.tsv",
              ((snp, chrom, pos, annotation.gene_names[g],
                annotation.pathway_names[annotation.gene_pathway[g]])
               for snp, chrom, pos, g in zip(annotation.snp_ids, annotation.chrom, annotation.pos,
                                             annotation.snp_gene)),
              header=("snp", "chrom", "pos", "gene", "pathway"))
    samples = [f"S{i + 1:04d}" for i in range(len(dosages))]
    write_tsv(data_dir / "genotypes.tsv",
              ((sample, *row) for sample, row in zip(samples, dosages.tolist())),
              header=("sample", *annotation.snp_ids))
    write_tsv(data_dir / "phenotypes.tsv", zip(samples, case.tolist()), header=("sample", "case"))
    print(f"  wrote {len(annotation.snp_ids)} annotated SNPs and {len(samples)} evaluation samples "
          f"to {data_dir}", flush=True)


def flow_list(prefix: str, names: list[str]) -> str:
    """``prefix[a, b, ...]`` as a YAML flow sequence wrapped at 100 columns."""
    indent = " " * (len(prefix) - len(prefix.lstrip()) + 2)
    return "\n".join(textwrap.wrap("[" + ", ".join(names) + "]", width=100, initial_indent=prefix,
                                   subsequent_indent=indent))


def entities_yaml_text(annotation: Annotation) -> str:
    """Content of ``entities.yaml``: which layer's units are which entities."""
    levels = (
        ("snp", "input", "the model's input features", annotation.snp_ids, "in input column order"),
        ("gene", "gene_act", "Tanh after the SNP->gene masked layer", annotation.gene_names,
         "in unit order of that layer's output"),
        ("pathway", "pathway_act", "Tanh after the gene->pathway masked layer",
         annotation.pathway_names, "in unit order of that layer's output"),
    )
    lines = [ENTITIES_COMMENT, "levels:"]
    for level, layer, layer_doc, units, units_doc in levels:
        lines += [f"  {level}:",
                  f"    layer: {layer}  # {layer_doc}",
                  f"    # units {units_doc}",
                  flow_list("    units: ", units)]
    return "\n".join(lines) + "\n"


def describe_check(report: dict) -> str:
    """One sentence on where the truth ranked, for ``info.training_procedure``."""
    def ranking(key: str) -> str:
        return f"{report[key]['rank']} ({report[key]['ratio']:.1f}x the next)"

    return (f"On the bundled evaluation samples {CAUSAL_GENE} ranks "
            f"{ranking('gene_grad_x_act')} by gradient x activation and "
            f"{ranking('gene_ablation')} by ablation among genes, its pathway ranks "
            f"{ranking('pathway_grad_x_act')} and {ranking('pathway_ablation')} by the same methods "
            f"among pathways; its causal SNPs "
            f"rank {report['snp_ranks']} by |gradient x input|.")


def model_yaml(annotation: Annotation, sizes: dict, auroc: float, report: dict) -> dict:
    """Content of the Kipoi ``model.yaml``, ready for ``yaml.safe_dump``.

    Parameters
    ----------
    annotation : Annotation
        Annotation the model was built from.
    sizes : dict
        Run sizes (``n_train``, ``n_test``, ``epochs``).
    auroc : float
        Held-out AUROC.
    report : dict
        Result of :func:`check_entity_importance`.
    """
    causal_snps = ", ".join(annotation.snp_ids[c] for c in annotation.causal_snp_columns())
    n_snps, n_genes, n_paths = (len(annotation.snp_ids), len(annotation.gene_names),
                                len(annotation.pathway_names))
    return {
        "defined_as": "kipoi.model.PyTorchModel",
        "args": {"module_file": "model.py", "module_class": "GenNet", "weights": "weights.pt"},
        "default_dataloader": ".",
        "info": {
            "authors": [{"name": "kipoi-explain developers"}],
            "doc": (f"Synthetic GenNet-style transparent network bundled with kipoi-explain. Input: "
                    f"dosages of {n_snps} made-up SNPs; a masked layer connects each SNP only to its "
                    f"gene ({n_genes} Tanh gene units, layer gene_act), a second masked layer each gene "
                    f"only to its pathway ({n_paths} Tanh pathway units, layer pathway_act), then a "
                    f"dense layer gives the case probability. entities.yaml names the units; the toy "
                    f"annotation is examples/data/gennet_annotation.tsv. Ground truth: only "
                    f"{CAUSAL_GENE} (pathway {annotation.causal_pathway()}) has an effect, through "
                    f"its SNPs {causal_snps}. Held-out AUROC {auroc:.4f} on {sizes['n_test']} "
                    f"simulated samples. Not a model of real biology; regenerate with: "
                    f"python examples/train_gennet.py"),
            "version": "0.1",
            "license": "MIT",
            "tags": ["synthetic", "example", "GenNet", "genotype"],
            "trained_on": (f"{sizes['n_train']} simulated samples: minor allele frequency per SNP "
                           f"U{MAF_RANGE}, dosages Binomial(2, maf); liability = sum over "
                           f"{causal_snps} of beta {list(CAUSAL_BETAS)} x standardised dosage + "
                           f"N(0, {NOISE_SD}^2) noise; case = liability above the training median."),
            "training_procedure": (f"Adam (learning rate {LEARNING_RATE}, weight decay "
                                   f"{WEIGHT_DECAY}), binary cross-entropy, batch size {BATCH_SIZE}, "
                                   f"{sizes['epochs']} epochs, seed {SEED}. {describe_check(report)}"),
        },
        "schema": {
            "inputs": {
                "name": "genotypes",
                "shape": f"({n_snps},)",
                "doc": (f"Minor-allele dosages (0, 1 or 2, float32) of the {n_snps} SNPs, in the "
                        f"order of entities.yaml (levels.snp.units)."),
            },
            "targets": {
                "shape": "(1,)",
                "doc": "Probability of being a case.",
                "column_labels": ["case"],
            },
        },
        "dependencies": {"pip": ["torch", "pyyaml"]},
    }


def save_model(model: torch.nn.Module, model_dir: Path, annotation: Annotation, yaml_content: dict) -> None:
    """Write the Kipoi model directory: sources, ``weights.pt``, ``model.yaml``, ``entities.yaml``."""
    model_dir.mkdir(parents=True, exist_ok=True)
    for name in MODEL_SOURCE_FILES:
        if (model_dir / name).resolve() != MODEL_SOURCE_DIR / name:
            shutil.copyfile(MODEL_SOURCE_DIR / name, model_dir / name)
    # A plain state_dict, because Kipoi calls torch.load with weights_only=True.
    torch.save(model.state_dict(), model_dir / "weights.pt")
    write_yaml(model_dir / "model.yaml", yaml_content)
    text = entities_yaml_text(annotation)
    # The flow lists are wrapped by hand, so prove the result parses back.
    parsed = yaml.safe_load(text)["levels"]
    assert (parsed["snp"]["units"], parsed["gene"]["units"], parsed["pathway"]["units"]) == (
        annotation.snp_ids, annotation.gene_names, annotation.pathway_names)
    (model_dir / "entities.yaml").write_text(text)


def check_through_kipoi(model_dir: Path, genotypes_file: Path, expected: np.ndarray) -> None:
    """Load the model and its dataloader with Kipoi and compare predictions.

    Raises
    ------
    RuntimeError
        If Kipoi's predictions differ from the in-memory model's.
    """
    import kipoi  # imported here: only this final check needs it

    model = kipoi.get_model(str(model_dir), source="dir", with_dataloader=False)
    dataloader = kipoi.get_dataloader_factory(str(model_dir), source="dir")(
        genotypes_file=str(genotypes_file))
    # One batch of everything, rather than load_all(), which draws a progress bar.
    batch = next(dataloader.batch_iter(batch_size=len(dataloader)))
    predicted = np.asarray(model.predict_on_batch(batch["inputs"]))[:, 0]
    if not np.allclose(predicted, expected, atol=1e-6):
        raise RuntimeError(f"Kipoi predictions differ by up to {np.abs(predicted - expected).max()}")
    print(f"  Kipoi loaded the model and read {len(batch['metadata']['sample'])} samples; "
          f"predictions match", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Simulate, train, check entity importance and write everything under ``--out``."""
    args = parse_args(__doc__, "tiny data and two epochs, for a fast smoke test (truth not "
                      "enforced)", argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    # Independent streams, so changing e.g. the test-set size leaves the
    # annotation and the training data unchanged.
    layout_rng, maf_rng, train_rng, test_rng = spawn_rngs(SEED, 4)
    model_module = import_module_file(MODEL_SOURCE_DIR / "model.py", "gennet_model")
    annotation = make_annotation(model_module, layout_rng)
    causal = annotation.causal_snp_columns()
    print(f"Annotation: {len(annotation.snp_ids)} SNPs, {len(annotation.gene_names)} genes, "
          f"{len(annotation.pathway_names)} pathways; causal gene {CAUSAL_GENE} "
          f"({annotation.causal_pathway()}), SNPs {', '.join(annotation.snp_ids[c] for c in causal)}",
          flush=True)

    maf = maf_rng.uniform(*MAF_RANGE, size=len(annotation.snp_ids))
    print(f"Simulating {sizes['n_train']} training and {sizes['n_test']} held-out samples", flush=True)
    x_train, _, liability_train = simulate_cohort(sizes["n_train"], maf, causal, train_rng)
    x_test, genetic_test, liability_test = simulate_cohort(sizes["n_test"], maf, causal, test_rng)
    threshold = np.median(liability_train)
    y_train, y_test = liability_train > threshold, liability_test > threshold
    print(f"  case rate: training {y_train.mean():.3f}, held-out {y_test.mean():.3f}; held-out AUROC "
          f"of the true genetic score (the ceiling) {roc_auc_score(y_test, genetic_test):.4f}", flush=True)

    print("Training GenNet", flush=True)
    tic = time.perf_counter()
    model = train(model_module, x_train.astype(np.float32), y_train.astype(np.float32)[:, None],
                  sizes["epochs"], SEED)
    print(f"  trained in {time.perf_counter() - tic:.1f} s", flush=True)
    x_test = x_test.astype(np.float32)
    auroc = roc_auc_score(y_test, predict_torch(model, x_test)[:, 0])
    print(f"  held-out AUROC {auroc:.4f}", flush=True)

    x_eval = x_test[:sizes["n_eval"]]
    print(f"Entity importance on the {len(x_eval)} bundled evaluation samples", flush=True)
    report = check_entity_importance(model, x_eval, annotation)
    if not truth_holds(report):
        message = "the simulated truth does not rank first everywhere"
        if not args.quick:
            raise SystemExit(f"Error: {message}; not writing a misleading example")
        print(f"  note: {message} (expected with --quick)", flush=True)

    print("Writing data and the Kipoi model directory", flush=True)
    write_data(args.out / "data", annotation, x_eval.astype(np.int64), y_test[:sizes["n_eval"]].astype(int))
    model_dir = args.out / "models" / "gennet"
    save_model(model, model_dir, annotation, model_yaml(annotation, sizes, auroc, report))
    check_through_kipoi(model_dir, args.out / "data" / "genotypes.tsv",
                        predict_torch(model, x_eval)[:, 0])
    for path in sorted(model_dir.iterdir()):
        print(f"  {path.name}: {path.stat().st_size / 1024:.1f} KiB", flush=True)
    print(f"Done; outputs in {args.out}", flush=True)


if __name__ == "__main__":
    main()
