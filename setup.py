"""depthcheck: executable, statistically judged checks of theorems about deep random networks."""
from setuptools import setup

setup(
    name="depthcheck",
    version="0.1.0",
    description=("Theorems about deep random networks (BN + orthogonal weights, rank collapse, "
                 "deep linear dynamics, linearly constrained weights) as Monte Carlo checks"),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=["theory", "kernels", "validation", "validation.bench"],
    install_requires=[
        "numpy>=1.24",
        "scipy>=1.10",
        "sympy>=1.12",
        "numba>=0.58",
        "hypothesis>=6.80",
        "matplotlib>=3.7",
        "tqdm>=4.60",
        "threadpoolctl>=3",
        "scikit-learn>=1.2",  # ships the digits images used as real inputs (no download)
    ],
    extras_require={
        "gpu": ["cupy-cuda12x>=13"],
        "dist": ["dask[distributed]>=2023.1"],
        # nvidia-cuda-nvcc-cu12 ships NVVM: tests compile the CUDA kernels to PTX without a GPU
        "test": ["pytest>=7", "pytest-xdist>=3", "dask[distributed]>=2023.1",
                 "nvidia-cuda-nvcc-cu12>=12.0; platform_system == 'Linux' and "
                 "platform_machine == 'x86_64'"],
    },
)
