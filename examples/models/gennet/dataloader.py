"""Kipoi dataloader of the bundled ``gennet`` example model.

Reads a tab-separated genotype table: a header ``sample`` followed by SNP ids,
then one row per sample with integer dosages (0, 1 or 2 copies of the minor
allele). Columns are matched to the model's inputs by SNP id, in the order
listed in ``entities.yaml`` next to this file, so a table whose columns are
permuted, or that has extra SNPs, still feeds the right dosage to each input.
"""
import csv
import inspect
from pathlib import Path

import numpy as np
import yaml
from kipoi.data import Dataset

# Kipoi executes this file without setting __file__, with the model directory
# as working directory; the code object still holds the path it was read from,
# resolved here while that working directory is current.
ENTITIES_FILE = Path(inspect.currentframe().f_code.co_filename).resolve().parent / "entities.yaml"


def model_snp_ids(entities_file: Path = ENTITIES_FILE) -> list[str]:
    """SNP ids in the model's input column order, from ``entities.yaml``."""
    with open(entities_file) as handle:
        return list(yaml.safe_load(handle)["levels"]["snp"]["units"])


class GenotypeDataset(Dataset):
    """One sample per item: its dosages in model input order and its id.

    Parameters
    ----------
    genotypes_file : str
        Tab-separated table with a ``sample`` column and one column per SNP id.

    Raises
    ------
    ValueError
        If the table lacks the ``sample`` column or any SNP the model needs,
        or holds a dosage outside {0, 1, 2}.
    """

    def __init__(self, genotypes_file: str):
        with open(genotypes_file, newline="") as handle:
            rows = list(csv.reader(handle, delimiter="\t"))
        header, body = rows[0], rows[1:]
        if "sample" not in header:
            raise ValueError(f"{genotypes_file}: no 'sample' column in the header")
        position = {name: i for i, name in enumerate(header)}
        snps = model_snp_ids()
        missing = [snp for snp in snps if snp not in position]
        if missing:
            raise ValueError(f"{genotypes_file}: {len(missing)} model SNPs missing, e.g. {missing[:3]}")
        columns = [position[snp] for snp in snps]
        self.samples = [row[position["sample"]] for row in body]
        self.dosages = np.array([[row[c] for c in columns] for row in body],
                                dtype=np.float32).reshape(len(body), len(snps))
        if not np.isin(self.dosages, (0.0, 1.0, 2.0)).all():
            raise ValueError(f"{genotypes_file}: dosages must be 0, 1 or 2")

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, idx: int) -> dict:
        return {"inputs": self.dosages[idx], "metadata": {"sample": self.samples[idx]}}
