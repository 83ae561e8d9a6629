"""Writes the settings records of the result files scored before zcjax recorded settings.

    python results/nb201/record_settings.py

Each record says what its run script (run_*.sh) ran: every proxy column of the
file, its dataset, init seed 0 with the default schemes, the full-size network,
and, for the files with data proxies, the default minibatch (the first 64
shipped CIFAR-10 images). Their `runs` entry says the record was made after
the fact. New runs write their own records.
"""

import os

from zcjax import ScoreConfig, provenance, registry
from zcjax.data import get_minibatch
from zcjax.evaluate import file_dataset
from zcjax.results import read_rows
from zcjax.score import output_columns, run_settings

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = {"cifar10_data_free.jsonl.gz": "run_data_free.sh cifar10",
         "cifar100_data_free.jsonl.gz": "run_data_free.sh cifar100",
         "ImageNet16-120_data_free.jsonl.gz": "run_data_free.sh ImageNet16-120",
         "cifar10_sample1000_all.jsonl.gz": "run_data_sample.sh",
         "cifar10_clusters8_all.jsonl.gz": "run_data_clusters.sh"}


def main() -> None:
    for name, script in FILES.items():
        path = os.path.join(HERE, name)
        rows = read_rows(path)
        dataset = file_dataset(path, list(rows[0]))
        proxies = [c for c in rows[0] if c in registry.all_names()]
        config = ScoreConfig(proxies=proxies, dataset=dataset)
        x, y = get_minibatch(dataset, 64) if config.needs_data else (None, None)
        columns = output_columns(config.proxies, config.dataset)
        assert columns == list(rows[0]), (name, columns, list(rows[0]))
        run = provenance.run_entry(strategy="batched", chunk_size=1, cells=len(rows), script=script,
                                   note="settings recorded after the run, from its script")
        provenance.write_record(path, provenance.Record("scores", tuple(columns), run_settings(config, x, y), (run,)))
        print(provenance.sidecar_path(path))


if __name__ == "__main__":
    main()
