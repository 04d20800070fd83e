"""Sets of real vectors, generated and seeded: the elements of the continuous tasks.

Each generator draws ``n`` sets of ``size`` elements from a numpy Generator and returns the
sets, float32 (n, size, dim), and what the set's target is made of: None when the target is
a function of the elements themselves (``reals``: the LAF functions over reals), else one
number per set, a parameter of the distribution the set samples (``gaussian_entropy``,
``gaussian_mi``) or a class (``point_clouds``). Draws of one size are one call each, so a
test size drawn in chunks from one Generator is the same for the same chunks.

- ``reals``: U[0, 100] reals, as in the Set Transformer paper's max regression.
- ``gaussian_entropy``: the DeepSets paper's population statistic T1. A 2-D Gaussian of
  eigenvalues 1 and 1/4 rotated by theta ~ U[0, pi]; the target is the entropy of its first
  coordinate, 1/2 log(2 pi e s^2), s^2 = cos^2 theta + sin^2 theta / 4.
- ``gaussian_mi``: T2. A 16-D Gaussian of two halves of 8 coordinates; the first coordinate
  of each half is correlated by rho ~ U[-0.9, 0.9], every other pair is independent, so the
  mutual information of the halves is -1/2 log(1 - rho^2).
- ``point_clouds``: points on one of ``SHAPES`` (each at unit size), rotated at random
  (uniform on SO(3)), scaled by U[0.5, 1.5] and moved by N(0, 0.02^2) noise per coordinate.
"""

from __future__ import annotations

import numpy as np

Draw = tuple[np.ndarray, np.ndarray | None]

#: The reals' range, as in the Set Transformer paper.
REALS_HIGH = 100.0
#: T1's eigenvalues.
ENTROPY_EIGENVALUES = (1.0, 0.25)
#: T2's dimension (two halves) and the range of rho.
MI_DIM, MI_RHO = 16, 0.9
#: Point clouds' scale range and noise.
SCALE_RANGE, NOISE = (0.5, 1.5), 0.02


def reals(rng: np.random.Generator, n: int, size: int) -> Draw:
    """U[0, 100] reals (n, size, 1); the target is a function of them (None here)."""
    return rng.uniform(0, REALS_HIGH, size=(n, size, 1)).astype(np.float32), None


def entropy_of_first(theta: np.ndarray) -> np.ndarray:
    """The entropy of the first coordinate of T1's Gaussian rotated by ``theta``."""
    low, high = ENTROPY_EIGENVALUES
    variance = low * np.cos(theta) ** 2 + high * np.sin(theta) ** 2
    return 0.5 * np.log(2 * np.pi * np.e * variance)


def gaussian_entropy(rng: np.random.Generator, n: int, size: int) -> Draw:
    """T1: samples (n, size, 2) of the rotated 2-D Gaussian, and each set's entropy."""
    theta = rng.uniform(0, np.pi, size=n)
    z = rng.standard_normal((n, size, 2)) * np.sqrt(ENTROPY_EIGENVALUES)
    c, s = np.cos(theta), np.sin(theta)
    rotation = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # (n, 2, 2)
    x = np.einsum("nij,nsj->nsi", rotation, z)  # x = R z, row by row
    return x.astype(np.float32), entropy_of_first(theta)


def entropy_estimate(x: np.ndarray) -> np.ndarray:
    """T1's maximum-likelihood plug-in estimate, which knows the family (Gaussian) but not
    its parameters: (n, N, 2) samples -> (n,) entropies 1/2 log(2 pi e s^2) of the first
    coordinate from its sample variance s^2."""
    return 0.5 * np.log(2 * np.pi * np.e * x[:, :, 0].astype(np.float64).var(axis=1))


def mi_estimate(x: np.ndarray) -> np.ndarray:
    """T2's plug-in estimate: (n, N, D) samples -> (n,) mutual information of the two
    halves, 1/2 (log det S_a + log det S_b - log det S), from the sample covariance S of
    all 16 coordinates (maximum likelihood: divided by N)."""
    x = x.astype(np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    cov = np.einsum("bni,bnj->bij", x, x) / x.shape[1]
    half = MI_DIM // 2

    def logdet(c: np.ndarray) -> np.ndarray:
        return np.linalg.slogdet(c)[1]
    return 0.5 * (logdet(cov[:, :half, :half]) + logdet(cov[:, half:, half:]) - logdet(cov))


def mutual_information(rho: np.ndarray) -> np.ndarray:
    """The mutual information of T2's halves for correlation ``rho``."""
    return -0.5 * np.log(1 - rho ** 2)


def gaussian_mi(rng: np.random.Generator, n: int, size: int) -> Draw:
    """T2: samples (n, size, 16) of the 16-D Gaussian, and each set's mutual information."""
    rho = rng.uniform(-MI_RHO, MI_RHO, size=n)
    x = rng.standard_normal((n, size, MI_DIM))
    half = MI_DIM // 2  # the second half's first coordinate, correlated with the first's
    x[:, :, half] = rho[:, None] * x[:, :, 0] + np.sqrt(1 - rho ** 2)[:, None] * x[:, :, half]
    return x.astype(np.float32), mutual_information(rho)


def on_circle(angle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.cos(angle), np.sin(angle)


def sphere(rng, n, size):
    """The unit sphere, uniformly."""
    x = rng.standard_normal((n, size, 3))
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def cube(rng, n, size):
    """The surface of [-1, 1]^3: a face, then a point on it, uniformly."""
    x = rng.uniform(-1, 1, size=(n, size, 3))
    axis = rng.integers(0, 3, size=(n, size, 1))
    side = rng.choice([-1.0, 1.0], size=(n, size, 1))
    return np.where(np.arange(3) == axis, side, x)


def cylinder(rng, n, size):
    """The side of the cylinder of radius 1 around z, for -1 <= z <= 1."""
    x, y = on_circle(rng.uniform(0, 2 * np.pi, size=(n, size)))
    return np.stack([x, y, rng.uniform(-1, 1, size=(n, size))], -1)


def cone(rng, n, size):
    """The side of the cone of apex (0, 0, 1) and base the unit circle at z = -1, uniformly
    (a point's distance from the apex grows as the square root of a uniform draw)."""
    t = np.sqrt(rng.uniform(0, 1, size=(n, size)))
    x, y = on_circle(rng.uniform(0, 2 * np.pi, size=(n, size)))
    return np.stack([t * x, t * y, 1 - 2 * t], -1)


def torus(rng, n, size):
    """The torus of radii 1 (around z) and 0.4, both angles uniform."""
    (cu, su), (cv, sv) = (on_circle(rng.uniform(0, 2 * np.pi, size=(n, size)))
                          for _ in range(2))
    return np.stack([(1 + 0.4 * cv) * cu, (1 + 0.4 * cv) * su, 0.4 * sv], -1)


def disk(rng, n, size):
    """The flat unit disk at z = 0, uniformly."""
    r = np.sqrt(rng.uniform(0, 1, size=(n, size)))
    x, y = on_circle(rng.uniform(0, 2 * np.pi, size=(n, size)))
    return np.stack([r * x, r * y, np.zeros_like(r)], -1)


def octahedron(rng, n, size):
    """The surface |x| + |y| + |z| = 1: a point of the simplex, uniformly, with random
    signs."""
    e = rng.exponential(size=(n, size, 3))
    return e / e.sum(-1, keepdims=True) * rng.choice([-1.0, 1.0], size=(n, size, 3))


def helix(rng, n, size):
    """The helix of radius 1 around z with two turns, for -1 <= z <= 1."""
    t = rng.uniform(0, 1, size=(n, size))
    x, y = on_circle(4 * np.pi * t)
    return np.stack([x, y, 2 * t - 1], -1)


#: The point clouds' classes: each shape at unit size, (rng, n, size) -> (n, size, 3).
SHAPES = {"sphere": sphere, "cube": cube, "cylinder": cylinder, "cone": cone,
          "torus": torus, "disk": disk, "octahedron": octahedron, "helix": helix}


def rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` rotations (n, 3, 3), uniform on SO(3): the QR of Gaussian matrices, signs
    fixed so that the distribution is uniform, and the determinant made +1."""
    q, r = np.linalg.qr(rng.standard_normal((n, 3, 3)))
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    q[:, :, 0] *= np.linalg.det(q)[:, None]  # a reflection turned into a rotation
    return q


def point_clouds(rng: np.random.Generator, n: int, size: int) -> Draw:
    """Clouds (n, size, 3) of points on a shape each, rotated, scaled and noisy, and each
    cloud's class (its index in ``SHAPES``)."""
    labels = rng.integers(0, len(SHAPES), size=n)
    points = np.zeros((n, size, 3))
    for k, shape in enumerate(SHAPES.values()):
        mine = np.flatnonzero(labels == k)
        points[mine] = shape(rng, len(mine), size)
    scale = rng.uniform(*SCALE_RANGE, size=(n, 1, 1))
    x = np.einsum("nij,nsj->nsi", rotations(rng, n), points) * scale
    x += rng.normal(0, NOISE, size=x.shape)
    return x.astype(np.float32), labels
