"""nbgrader's configuration for the students' servers of a class (docs/deployment.md).

Installed where every student's JupyterLab reads Jupyter config: /etc/jupyter/nbgrader_config.py, or
<environment>/etc/jupyter/nbgrader_config.py. The Assignments tab then lists this course's assignments in the
exchange the hub names (``NBGRADER_EXCHANGE_ROOT``, set by deploy/jupyterhub_config.py), and submits there.
"""
import os

c = get_config()  # noqa: F821  (provided by nbgrader)

c.CourseDirectory.course_id = "backprop-from-scratch"  # the repository's nbgrader_config.py uses the same id
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE_ROOT", "/srv/nbgrader/exchange")
