"""Results out: HDF5, TF-MoDISco input files, and pictures a person can look at."""
from .hdf5 import read_hdf5, write_hdf5
from .logos import motif_logo, write_logos
from .meme import write_meme
from .modisco import write_modisco
from .motif_table import motif_table, write_motif_table
from .plot import plot_attribution

__all__ = ["motif_logo", "motif_table", "plot_attribution", "read_hdf5", "write_hdf5",
           "write_logos", "write_meme", "write_modisco", "write_motif_table"]
