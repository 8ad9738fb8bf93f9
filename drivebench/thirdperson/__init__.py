"""The third-person imitation experiment (issue 19): experiment.py runs it, figure.py draws it, cli.py is
`drivebench thirdperson`."""
