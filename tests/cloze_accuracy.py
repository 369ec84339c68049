#!/usr/bin/env python3
"""Cloze accuracy (docs/quality.md "Cloze accuracy"): not part of ./test.sh, a measurement.

  cloze_accuracy.py make CORPUS DIR   DIR/tail.txt = CORPUS's validation tail (train --val 0.1: the last 10% of its
                                      characters); DIR/mask1.txt = 10% of them replaced by '_' at random positions,
                                      DIR/mask3.txt = 10% in runs of 3 (seed 1); DIR/maskN.mf.txt = the blanks
                                      filled with the training split's most frequent character.
  cloze_accuracy.py score DIR FILLED MASKED   the fraction of MASKED's blanks that FILLED has right.

Then: charrnn fill -m MODEL DIR/mask1.txt > filled.txt; cloze_accuracy.py score DIR filled.txt DIR/mask1.txt"""
import collections, random, sys

def make(corpus, d):
    t = open(corpus, encoding='utf-8').read()
    ntrain = int(len(t) * 0.9)          # charrnn's split of a text of single-symbol characters
    tr, va = t[:ntrain], t[ntrain:]
    if '_' in t: sys.exit('the corpus uses _ itself: choose another blank')
    open(d + '/tail.txt', 'w').write(va)
    n, rng = len(va), random.Random(1)
    one = set(rng.sample(range(n), n // 10))
    starts = list(range(0, n - 3, 3)); rng.shuffle(starts)
    three = {s + k for s in starts[: n // 30] for k in range(3)}
    mf = collections.Counter(tr).most_common(1)[0][0]
    for name, pos in (('mask1', one), ('mask3', three)):
        m = ''.join('_' if i in pos else c for i, c in enumerate(va))
        open('%s/%s.txt' % (d, name), 'w').write(m)
        open('%s/%s.mf.txt' % (d, name), 'w').write(m.replace('_', mf))
    print('%d characters, %d blanks each; most frequent training character %r' % (n, len(one), mf))

def score(d, filled, masked):
    va, f, m = (open(p).read() for p in (d + '/tail.txt', filled, masked))
    if not len(f) == len(va) == len(m): sys.exit('lengths differ: %d %d %d' % (len(f), len(va), len(m)))
    idx = [i for i, c in enumerate(m) if c == '_']
    ok = sum(f[i] == va[i] for i in idx)
    print('%s: %d of %d blanks right = %.1f%%' % (filled, ok, len(idx), 100.0 * ok / len(idx)))

if __name__ == '__main__':
    if len(sys.argv) == 4 and sys.argv[1] == 'make': make(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == 'score': score(*sys.argv[2:])
    else: sys.exit(__doc__)
