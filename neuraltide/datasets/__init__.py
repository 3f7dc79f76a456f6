"""Small data sets made in code or shipped by a package; nothing is downloaded at run time."""
