"""The annotation web app (``textal serve``): a thin shell over :class:`textal.workspace.Workspace`.

Import :mod:`textal.web.server` only in the command that serves: Starlette and uvicorn load there.
"""
