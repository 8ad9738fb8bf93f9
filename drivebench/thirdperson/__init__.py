"""The third-person imitation experiment (issue 19): experiment.py runs it, figure.py draws it, cli.py is
`drivebench thirdperson`. The names below import nothing heavy: the `drivebench` parser reads them."""

METHODS = ("first_person", "naive", "tpil", "oracle")
"""the methods of agents/thirdperson.py, in the order tables show them: the ceiling, the floor, domain-adversarial,
the analytic oracle"""
FRAMES = ("world", "follower")
"""the demonstrator's frames the experiment offers (declared observation types of every family)"""
