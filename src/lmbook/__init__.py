"""Shared code for the course *Large Models: From Neurons to Business*.

Each module serves one topic and names the chapter that explains it:

- ``lmbook.env``: where a notebook runs, seeding, quiet logging (every chapter)
- ``lmbook.plot``: the book's matplotlib style and figure helpers (every chapter)
- ``lmbook.data``: loaders for the offline data sets and tables the book uses
- ``lmbook.scaling``: growth fits, training compute and scaling laws (chapter 1)
- ``lmbook.nn``: a NumPy multilayer perceptron, losses, backpropagation, optimizers
  (chapter 2)
- ``lmbook.generalisation``: data splits, weight decay, dropout, early stopping and
  initialisation (chapter 2, part 2)
- ``lmbook.cnn``: convolution and pooling in NumPy, forward and backward, and a small
  ResNet in PyTorch (chapter 3)
- ``lmbook.norm``: batch and layer normalisation in NumPy, forward and backward
  (chapter 3)
- ``lmbook.rnn``: Elman RNN, LSTM and GRU in NumPy, with backpropagation through time
  (chapter 4)
- ``lmbook.seq2seq``: date translation, Bahdanau attention, an RNN encoder–decoder,
  greedy decoding and beam search (chapter 4)
- ``lmbook.attention``: scaled dot-product and multi-head attention, masks, positions
  (chapter 5)
- ``lmbook.gpt``: a tiny character-level GPT in PyTorch, with a bigram baseline
  (chapter 5)
- ``lmbook.transformer``: cross-attention and the encoder–decoder Transformer
  (chapter 5)
- ``lmbook.diagrams``: the book's diagrams of networks, cells and attention, drawn
  in code (chapters 2–7)
- ``lmbook.bench``: the peak memory of one call (chapter 5)
- ``lmbook.train``: the training loop chapter 2 writes by hand, as one function
  (chapter 3 on)
- ``lmbook.vision``: VGG16 by the numbers, ImageNet preprocessing, EfficientNet-Lite0,
  Grad-CAM (chapter 7)
- ``lmbook.mlm``: pretraining a small BERT by masked language modelling (chapter 6)
- ``lmbook.text``, ``lmbook.ner``, ``lmbook.generation``: WordPiece, embeddings,
  fine-tuning, entity tagging with a CRF, decoding and perplexity (chapter 6)
- ``lmbook.scale``: memory, compute, time and GPU counts for training at scale
  (chapter 8)
- ``lmbook.distributed``: ring all-reduce and the DistributedDataParallel script
  (chapter 8)
- ``lmbook.sharding``: FSDP against the ZeRO formula, and a tensor-parallel block
  (chapter 8)
- ``lmbook.deploy``: quantization, pruning, distillation and serving arithmetic
  (chapter 9)
- ``lmbook.compression``: SmolLM2's real weights compressed and scored by perplexity
  (chapter 9)
- ``lmbook.economics``: prices, training and serving cost, API vs self-hosting
  (chapter 10)
- ``lmbook.privacy``, ``lmbook.explain``: DP-SGD, accounting, federated averaging;
  saliency and integrated gradients (chapter 11)
- ``lmbook.checks``: exercise checkers

Importing the package imports nothing heavy and changes no global state.
"""

__version__ = "0.5.0"
