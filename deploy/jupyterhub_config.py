"""JupyterHub for a class of Backprop from Scratch, on one machine (docs/deployment.md).

Each student is a system user: JupyterHub runs as root and starts that user's JupyterLab as that user
(LocalProcessSpawner), in an environment where the student edition is installed together with
jupyterhub, jupyterlab and nbgrader. nbgrader's exchange (the Assignments tab: fetch, submit, fetch feedback)
is a folder every student's server reaches at the same path; nbgrader's own permissions on it
(outbound 755, inbound 2733, feedback 755) keep students out of each other's work because every student
has a uid of their own.

What changes from one site to the next goes in a second file, read last (``BFS_HUB_SITE_CONFIG``, default
/etc/jupyterhub/site_config.py): the authenticator (PAM, LTI, OAuth ...), TLS, the address. The browser
test (tests/e2e/test_hub_round_trip.py) runs this file with a site config of its own: a shared password,
users made with useradd, 127.0.0.1 and a free port.
"""
import os
from pathlib import Path

c = get_config()  # noqa: F821  (provided by JupyterHub)

# The exchange root every student's server and the instructor use (nbgrader's Exchange.root).
EXCHANGE = os.environ.get("NBGRADER_EXCHANGE_ROOT", "/srv/nbgrader/exchange")

c.JupyterHub.spawner_class = "localprocess"
# The single-user server of the environment that holds the course (default: the one on PATH).
c.Spawner.cmd = [os.environ.get("BFS_SINGLEUSER", "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
# nbgrader's config for students (deploy/nbgrader_config.py, installed beside the environment's Jupyter
# config) reads the exchange from here; TF's logs stay out of the notebooks.
c.Spawner.environment = {"NBGRADER_EXCHANGE_ROOT": EXCHANGE, "TF_CPP_MIN_LOG_LEVEL": "2"}
# A first kernel imports PyTorch and TensorFlow: a loaded machine needs more than the default 60 s.
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

# JupyterHub's state (sqlite, cookie secret) in its own folder, not in the directory it was started from.
STATE = Path(os.environ.get("BFS_HUB_STATE", "/srv/jupyterhub"))
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
# Stop the students' servers with the hub (an idle culler is the way to stop them sooner).
c.JupyterHub.cleanup_servers = True

# Users are the machine's accounts; PAM checks their passwords unless the site config says otherwise,
# and only members of the group "students" may log in.
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {"students"}

site_config = Path(os.environ.get("BFS_HUB_SITE_CONFIG", "/etc/jupyterhub/site_config.py"))
if site_config.is_file():
    load_subconfig(str(site_config))  # noqa: F821  (provided by JupyterHub)
