"""The suite's run of these notebooks (nbval): their kernels inherit QODLAB_NOTEBOOK_TEST, and a notebook that
leaves something running for the person who opened it (03's dashboard) stops it when it is set."""

import os

os.environ["QODLAB_NOTEBOOK_TEST"] = "1"
