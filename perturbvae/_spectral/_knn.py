"""Each sample's nearest other samples: the one query behind the count's graphs.

A k-d tree slows with the dimension; a brute-force query does not (one matrix product), but
reads distances as ``|x|^2 + |y|^2 - 2 x.y``, which loses digits for near points. So from
:data:`BRUTE_MIN_DIM` dimensions the neighbours are found by brute force and their distances
recomputed from the differences of the rows, as the tree computes them. Where distances tie
(copies of a row), either search may take a different one of the tied rows as a point's last
neighbour: breast cancer with 50 rows repeated read 3 wells through the brute-force search's
graph, 2 through the tree's (its resamples read 2 either way).
"""

import numpy as np
from sklearn.neighbors import NearestNeighbors

# On 1,797 points and 48 neighbours the k-d tree took 19 ms in 2-d, 35 ms in 4-d, 60 ms in
# 6-d and 90 ms in 10-d, the brute-force query 44-46 ms in any of them.
BRUTE_MIN_DIM = 6
# Above this many rows the brute-force query's n^2 products outgrow the tree's search.
BRUTE_MAX_ROWS = 20000


def neighbours(Y, k, return_distance=True, n_jobs=None):
    """Distances and indices of each row's ``k`` nearest other rows of ``Y`` (sorted by
    distance), or the indices alone."""
    n, d = Y.shape
    brute = d >= BRUTE_MIN_DIM and n <= BRUTE_MAX_ROWS
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute" if brute else "auto",
                          n_jobs=n_jobs).fit(Y)
    if not brute:
        return nn.kneighbors(return_distance=return_distance)
    ind = nn.kneighbors(return_distance=False)
    if not return_distance:
        return ind
    dist = np.zeros(ind.shape)
    for j in range(d):  # summed coordinate by coordinate, in the tree's order
        dist += (Y[:, j, None] - Y[ind, j]) ** 2
    np.sqrt(dist, out=dist)
    order = np.lexsort((ind, dist), axis=1)  # equal distances (copies): lower index first
    return np.take_along_axis(dist, order, axis=1), np.take_along_axis(ind, order, axis=1)
