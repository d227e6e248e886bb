"""nbgrader's configuration for the students' servers of a class (docs/deployment.md).

Installed where every student's JupyterLab reads Jupyter config: /etc/jupyter/nbgrader_config.py, or
<environment>/etc/jupyter/nbgrader_config.py. The Assignments tab then lists this course's assignments in the
exchange the hub names (``NBGRADER_EXCHANGE_ROOT``, set by deploy/jupyterhub_config.py), and submits there.
"""
import os

c = get_config()  # noqa: F821  (provided by nbgrader)

c.CourseDirectory.course_id = "backprop-from-scratch"  # the repository's nbgrader_config.py uses the same id
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE_ROOT", "/srv/nbgrader/exchange")

# nbgrader 0.9 names a submission <student>+<lesson>+<timestamp>+<random>; `grader collect` reads
# <student>+<lesson>+<timestamp> only (it flags the longer name as an unreadable timestamp). Until it reads
# both, submissions go without the random part, as before nbgrader 0.9 (docs/deployment.md, "Limits").
c.ExchangeSubmit.add_random_string = False
