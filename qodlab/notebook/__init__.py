"""The notebook side: the Workbench, the pump that feeds widgets, kernel-friendly waiting, displays and colours."""
