"""The instructor's pipeline, one module per step: release, collect, grade/autograde, feedback, report."""
