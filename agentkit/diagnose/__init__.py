"""Why a deployment failed, and what to do: rules as data over what a failure left behind.

The agent's messages say *that* a script failed; people search the web for the rest. A
diagnosis names the cause in one sentence and the fix in one or two, and quotes its
evidence (a line of the script's output, the agent's message). It is applied to verify's
failed and undetermined scripts, to Install and DownloadBundle failures, to text a user
pastes (`agentkit explain`: the console's event log, scripts.log, the agent's log, the JSON
of `aws deploy get-deployment-instance`) and to the last failed deployment on an instance
(`agentkit doctor`).

- case.py    what one failure left behind (`Case`), from verify's result or from parsed text
- rules.py   the rules, as data: what each matches, its cause and fix
- engine.py  the matching: which rules fit a case, with their evidence
- parse.py   pasted text and JSON into cases

Nothing here runs anything: it reads what a failure left.
"""
