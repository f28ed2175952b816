# spire on GPUs: CUDA PyTorch base, the toolkit with its GPU extras, `spire` as entry point.
#   docker build -t spire .
#   docker run --gpus all -v $PWD/runs:/runs spire units label --help
FROM pytorch/pytorch:2.6.0-cuda12.4-cudnn9-runtime

ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
WORKDIR /opt/spire
COPY setup.cfg pyproject.toml README.md ./
COPY units ./units
COPY spire ./spire
COPY configs ./configs
# torch comes from the base image; the gpu extra swaps faiss-cpu's kernels for faiss-gpu's.
RUN pip install --upgrade pip && pip install ".[gpu,lora]"

WORKDIR /runs
ENTRYPOINT ["spire"]
CMD ["--help"]
