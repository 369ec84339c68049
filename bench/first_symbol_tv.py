#!/usr/bin/env python3
"""bench/first_symbol_tv.py CORPUS [SKIP] < samples.jsonl

Total-variation distance between the first symbols of samples (charrnn sample --jsonl) and the symbols that start
the corpus's lines (its first symbol and the one after each newline). SKIP: the prime's length in characters,
which each JSONL text begins with (0 without a prime). Prints the distance, 0 (the same) to 1 (disjoint)."""
import collections
import json
import sys

skip = int(sys.argv[2]) if len(sys.argv) > 2 else 0
text = open(sys.argv[1], encoding='utf-8').read()
starts = collections.Counter([text[0]] + [text[i + 1] for i in range(len(text) - 1) if text[i] == '\n'])
firsts = collections.Counter(json.loads(line)['text'][skip:skip + 1] for line in sys.stdin)
ns, nf = sum(starts.values()), sum(firsts.values())
print('%.3f' % (0.5 * sum(abs(starts[c] / ns - firsts[c] / nf) for c in set(starts) | set(firsts))))
