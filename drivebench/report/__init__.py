"""The run report (`drivebench run` writes it): a static folder with index.html, figures, GIFs and CSV tables.

data.py reads what the report shows from the results database; figures.py draws PNGs from plain data; gifs.py
replays telling failures as GIFs; page.py writes the HTML; build.py's `write_report` puts it all together.
"""
from drivebench.report.build import write_report

__all__ = ["write_report"]
