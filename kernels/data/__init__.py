"""depthcheck.kernels.data: data sets in the papers' layout, X ``(features, n)``.

Split by role: ``synthetic`` (Gaussian mixtures, linear teachers, whitening, one-hot, the
``Dataset`` container) and ``images`` (scikit-learn's bundled digits and photographs, never a
download). Every public name of both is re-exported here; import from this package.
"""
from depthcheck.kernels.data.images import (CROP, SOURCES, STANDARDISE, image_batch,
                                            load_digits_data, n_features)
from depthcheck.kernels.data.synthetic import (Dataset, gaussian_mixture, haar_orthogonal,
                                               linear_teacher, one_hot, whiten)

__all__ = ["Dataset", "gaussian_mixture", "linear_teacher", "whiten", "one_hot",
           "haar_orthogonal", "STANDARDISE", "load_digits_data", "image_batch", "n_features",
           "SOURCES", "CROP"]
