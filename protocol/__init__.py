"""The agent–server contract, in one place, Django-free: the server and the agent
program (agents/runtime/) both build and read what crosses the wire through it.

* `protocol.commands` — the commands the server queues for agents (scan, collect,
  cancel, health_check, config_update) and their typed payloads, `to_wire`/`from_wire`.
* `protocol.report` — the report shape every input format becomes (RIS, flat, SARIF,
  the scanners' own formats), and the fingerprint of a finding.
* `protocol.ris` — the RIS vocabulary: the detail objects a RIS finding may carry.
* `protocol.capabilities` — which capability a tool needs of an agent, and gives one.
* `protocol.limits` — what one report may cost the server to read.

One word on the wire: a command's and a report's `scan_id` carries the id of a scan
*session* (one tool on one target), the reference SDK's name kept for compatibility;
the scan definition is `scan_definition_id`, the run (one trigger of a scan, its
sessions under it) is `run_id`.
"""
