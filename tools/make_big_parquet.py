#!/usr/bin/env python3
"""Make a large Parquet file for the streaming benchmark: rows sampled (with replacement) from a
workload's explain rows, with Gaussian noise (5% of each column's spread) so no two rows repeat.
Not committed: it is ~400 MB at a million rows.

    python tools/make_big_parquet.py ../shared/bench-data/xgb_cls/explain.parquet /tmp/big.parquet --rows 1000000
"""

import argparse

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("source")
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--row-group", type=int, default=65_536)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    src = pq.read_table(args.source).to_pandas()
    rng = np.random.default_rng(args.seed)
    spread = src.std().to_numpy() * 0.05
    values = src.to_numpy()
    schema = pa.schema([(c, pa.float64()) for c in src.columns])
    with pq.ParquetWriter(args.out, schema, compression="zstd") as w:
        done = 0
        while done < args.rows:
            n = min(args.row_group, args.rows - done)
            pick = values[rng.integers(0, len(values), size=n)]
            noisy = np.round(pick + rng.normal(size=pick.shape) * spread, 3)
            w.write_table(pa.Table.from_arrays([pa.array(noisy[:, j]) for j in range(noisy.shape[1])], schema=schema))
            done += n
    print(f"wrote {done} rows to {args.out}")


if __name__ == "__main__":
    main()
