"""Results out: HDF5, TF-MoDISco input files, and pictures a person can look at."""
from .hdf5 import read_hdf5, write_hdf5
from .modisco import write_modisco
from .plot import plot_attribution

__all__ = ["plot_attribution", "read_hdf5", "write_hdf5", "write_modisco"]
