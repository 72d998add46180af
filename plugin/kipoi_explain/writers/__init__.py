"""Results out: HDF5, TF-MoDISco input files, tables, and pictures a person can look at."""
from .attention import plot_attention, read_attention_hdf5, write_attention_hdf5
from .entity_table import (plot_entities, write_entity_metadata, write_entity_scores,
                           write_entity_table)
from .hdf5 import read_hdf5, write_hdf5
from .logos import motif_logo, write_logos
from .meme import write_meme
from .modisco import write_modisco
from .modisco_report import write_modisco_results
from .motif_table import motif_table, write_motif_table
from .plot import plot_attribution, plot_scores
from .screen import plot_screen, write_screen_metadata, write_screen_table

__all__ = ["motif_logo", "motif_table", "plot_attention", "plot_attribution", "plot_entities",
           "plot_scores", "read_attention_hdf5", "read_hdf5", "write_attention_hdf5", "write_entity_metadata",
           "write_entity_scores", "write_entity_table", "write_hdf5", "write_logos",
           "write_meme", "write_modisco", "write_modisco_results", "write_motif_table",
           "plot_screen",
           "write_screen_metadata", "write_screen_table"]
