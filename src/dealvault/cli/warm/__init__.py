"""The warm command server (like Mercurial's chg): a resident per-user process that has the
command modules imported already and forks a child per ``dealvault`` call (see docs/warm.md).

Nothing is imported here: the client (``cli.launch``) imports only the stdlib modules it needs.
"""
