# Is the component-wise "ground truth" T* of HOTET's Gaussian-mixture protocol (spec §1.7) an OT map?
# For mixtures of the §1.7 family: draw n points x of mu with their components, their T* images, and an
# independent sample of nu; solve exact discrete OT (POT's network simplex) and compare its plan and cost with
# T*'s. A developer's check behind docs/hotet.md, not part of the build or CI.
# Needs Debian's python3-pot and python3-scipy:  /usr/bin/python3 scripts/hotet_ground_truth_vs_ot.py 2,8 2000
import numpy as np, ot, sys
from scipy.linalg import sqrtm
def wishart(rng, df, d):
    g = rng.standard_normal((df, d)); return g.T @ g
def mixture(rng, d):
    return [(rng.uniform(0, 3, d), wishart(rng, d + 5, d)) for _ in range(3)]
def bures(m0, S0, m1, S1):
    r = np.real(sqrtm(S0)); ri = np.linalg.inv(r)
    A = ri @ np.real(sqrtm(r @ S1 @ r)) @ ri
    return A, m1 - A @ m0
w = np.array([.3, .3, .4])
def total_var(mix):
    mbar = sum(wk * m for wk, (m, S) in zip(w, mix))
    return np.trace(sum(wk * (S + np.outer(m, m)) for wk, (m, S) in zip(w, mix)) - np.outer(mbar, mbar))
for d in [int(a) for a in sys.argv[1].split(',')]:
    res = []
    for trial in range(3):
        rng = np.random.default_rng(100 * d + trial)
        src, tgt = mixture(rng, d), mixture(rng, d)
        n = int(sys.argv[2])
        counts = rng.multinomial(n, w)
        X, Y, T = [], [], []
        for k, c in enumerate(counts):
            x = rng.multivariate_normal(src[k][0], src[k][1], c)
            A, b = bures(src[k][0], src[k][1], tgt[k][0], tgt[k][1])
            X.append(x); T.append(x @ A.T + b)
            Y.append(rng.multivariate_normal(tgt[k][0], tgt[k][1], c))  # independent target sample
        X, Y, T = map(np.vstack, (X, Y, T))
        M = ot.dist(X, Y)
        G = ot.emd(np.full(n, 1 / n), np.full(n, 1 / n), M, numItermax=10**7)
        sigma = G.argmax(1)
        vn = total_var(tgt)
        ot_vs_cw = 100 * np.mean(np.sum((Y[sigma] - T) ** 2, 1)) / vn
        # noise level of discrete OT itself: match T (the cw images) to Y by OT; cw map of x -> its exact image is T,
        # so OT between X and T (a sample of nu too) measures how far OT is from cw without sampling noise in nu.
        G2 = ot.emd(np.full(n, 1 / n), np.full(n, 1 / n), ot.dist(X, T), numItermax=10**7)
        s2 = G2.argmax(1)
        ot_vs_cw_same = 100 * np.mean(np.sum((T[s2] - T) ** 2, 1)) / vn
        cost_cw = np.mean(np.sum((T - X) ** 2, 1)); cost_ot = np.mean(np.sum((T[s2] - X) ** 2, 1))
        res.append((ot_vs_cw, ot_vs_cw_same, cost_cw, cost_ot))
        print(f"d={d} trial {trial}: L2-UVP(OT plan X->Y vs cw) {ot_vs_cw:.1f}%  (X->T plan vs cw) {ot_vs_cw_same:.1f}%  "
              f"transport cost cw {cost_cw:.2f} vs OT {cost_ot:.2f}", flush=True)
