"""Fits the polynomial coefficients of hostdevice/vaead/portable_math.hpp and prints them as C++
hex literals with each fit's error: near-minimax (least squares on Chebyshev nodes with Lawson's
reweighting) in 60-digit arithmetic, then rounded to double, the error measured on a dense grid
with the rounded coefficients. Needs mpmath (pip install mpmath); about ten seconds.

    python3 scripts/fit_math_coefficients.py
"""
import mpmath as mp

mp.mp.dps = 60


def fit(function, low, high, terms, nodes=200, rounds=15):
    """Coefficients c[0..terms) of sum c[j] x^j close to function on [low, high] (absolute error)."""
    xs = [(low + high) / 2 + (high - low) / 2 * mp.cos(mp.pi * (i + mp.mpf(1) / 2) / nodes)
          for i in range(nodes)]
    weights = [mp.mpf(1)] * nodes
    for _ in range(rounds):
        a = mp.matrix(nodes, terms)
        y = mp.matrix(nodes, 1)
        for i, x in enumerate(xs):
            w = mp.sqrt(weights[i])
            for j in range(terms):
                a[i, j] = x ** j * w
            y[i] = function(x) * w
        c = mp.lu_solve(a.T * a, a.T * y)
        errors = [abs(sum(c[j] * x ** j for j in range(terms)) - function(x)) for x in xs]
        total = sum(weights[i] * errors[i] for i in range(nodes))
        weights = [weights[i] * errors[i] / total * nodes for i in range(nodes)]
    rounded = [float(c[j]) for j in range(terms)]
    grid = [low + (high - low) * i / 4000 for i in range(4001)]
    error = max(abs(sum(mp.mpf(rounded[j]) * x ** j for j in range(terms)) - function(x))
                for x in grid)
    return rounded, error


def show(name, coefficients, error, scale):
    print(f"{name}: error {mp.nstr(mp.log(error * scale, 2), 4)} (log2, relative to the result)")
    for j, c in enumerate(coefficients):
        print(f"  c{j} = {c.hex()}")


def log_tail(z):  # R(z) / z, R(s^2) = (2 atanh(s) - 2 s) / s
    if z == 0:
        return mp.mpf(2) / 3
    s = mp.sqrt(z)
    return (2 * mp.atanh(s) - 2 * s) / s / z


def sin_tail(u):  # S(u) = (sin t - t) / t^3, u = t^2
    if u == 0:
        return -mp.mpf(1) / 6
    t = mp.sqrt(u)
    return (mp.sin(t) - t) / t ** 3


def cos_tail(u):  # C(u) = (cos t - 1 + u / 2) / u^2
    if u == 0:
        return mp.mpf(1) / 24
    t = mp.sqrt(u)
    return (mp.cos(t) - 1 + u / 2) / u ** 2


def exp_tail(r):  # E(r) = (e^r - 1 - r) / r^2
    if r == 0:
        return mp.mpf(1) / 2
    return (mp.exp(r) - 1 - r) / r ** 2


z_max = ((mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)) ** 2
# log: R(z) = z * (c0 + c1 z + ...); an error d in R is an error d/2 relative to log(1 + f) ~ 2s.
show("log R(z)/z on [0, z_max]", *fit(log_tail, mp.mpf(0), z_max, 7), z_max / 2)
u_max = (mp.pi / 4) ** 2
show("sin S(u) on [0, (pi/4)^2]", *fit(sin_tail, mp.mpf(0), u_max, 6), u_max)
show("cos C(u) on [0, (pi/4)^2]", *fit(cos_tail, mp.mpf(0), u_max, 6), u_max ** 2 / mp.cos(mp.pi / 4))
half_ln2 = mp.log(2) / 2
show("exp E(r) on [-ln2/2, ln2/2]", *fit(exp_tail, -half_ln2, half_ln2, 11),
     half_ln2 ** 2 / mp.exp(-half_ln2))
