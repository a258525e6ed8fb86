"""dcgan-course: the helper package behind the DCGAN course notebooks.

One module per concept, families in folders named for them (``data/``, ``style/``), and the
instructors' and maintainers' machinery apart in ``classroom/``; learners never need it. The
notebook that teaches each module is in the last column.

| module | holds | taught in |
|---|---|---|
| settings | fast mode, device (cuda → mps → cpu), precision, seeds, data and runs folders, Colab | 00 |
| data | datasets as whole tensors in [-1, 1]: digits (embedded), torchvision sets, folder:PATH | 00 |
| data.image_folder | folder:PATH: your own images, one sub-folder per class | 00 |
| data.packaged | datasets the OS package manager installed (Debian's Fashion-MNIST) | 00, README |
| data.paired | aligned (input, target) pairs for translation: edges2digits, facades | 08 |
| models | the DCGAN generator and discriminator, init, ``generate`` (sampling) | 01, 02 |
| precision | autocast, the float16 gradient scaler, one update through it | 03 |
| train | D and G steps, ``train_gan`` (the loop), ``pretrained_gan`` | 03 |
| distributed | DDP under ``torchrun``: sharded batches, rank-0 writes, per-rank RNG | docs/multi_gpu.md |
| checkpoint | atomic checkpoint files, clear errors, exact resume, models from a checkpoint | 03 |
| cuda_graph | one training step captured as a CUDA graph and replayed | 03 (docs/results.md: speed) |
| metrics | the offline Fréchet classifier distance | 03 |
| losses | the GAN losses on D's logits: ``gan_loss`` (BCE), minimax, LSGAN, hinge | 03, 10 |
| toy | the 1-D toy (D*, Jensen-Shannon) and the ring of 8 Gaussians (mode collapse, PacGAN) | 10 |
| diagnostics | the DCGAN-guidelines ablation and the memorisation measurement | 10 (07 cites it) |
| latent | interpolation (lerp, slerp), vector arithmetic, nearest neighbours | 04 |
| features | forward hooks, the paper's 4x4 max-pool features, encoder / inversion | 05 |
| probe | linear probes, baselines, label budgets, result tables | 06 |
| stats | mean ± 95 % CI over seeds (t, ddof = 1), paired differences | 06, 07 |
| evaluation | the protocol behind the tables: choose on validation, test once, repeat over seeds | 06, 07 |
| cifar10_results | the committed CIFAR-10 benchmark: the representation-learning curve and its table | 06 |
| saved_discriminators | saved discriminators (any recipe, pytorch/examples ``netD``) to probe | results |
| improve | auxiliary classifier, K+1, augmentation, regularisers, fine-tuning | 07 |
| translation | pix2pix: U-Net, PatchGAN, L1 + adversarial loss, evaluation | 08 |
| style | Gram matrices, content / style losses, feature networks, Gatys transfer | 09 |
| style.evaluation | judging a transfer outside its own loss: unused networks, an edge floor | 09 |
| style.feedforward | the one-pass transform network of Johnson et al. | 09 |
| viz | image files, grids, curves, image strips, the latent explorer widget | all |
| checks | the exercise checks, one module per topic | exercises |
| cli | the ``dcgan-course`` command line | README |
| classroom | instructors' and maintainers' machinery; not in the student edition | for_instructors |
| classroom.authoring | exercises/ generated from solutions/ | (maintainers) |
| classroom.colab | the Colab badge and install guard written into every notebook | (maintainers) |
| classroom.check_cells | finding and restoring ``check``-tagged cells | (instructors) |
| classroom.grading | grading submissions under nbval | (instructors) |
| classroom.integrity | hidden cells: a notebook that rebinds the checks is ``tampered`` | (instructors) |
| classroom.similarity | solution regions whose syntax tree is a package function's | (instructors) |
| classroom.reports | the CSV and Markdown grade reports | (instructors) |
| classroom.plugin | the pytest plugin that records each nbval cell | (instructors) |
| classroom.kernels | warm kernels: heavy imports once, one forked fresh kernel per notebook | (instructors) |
| classroom.runs | the pretrained GAN trained once by the grader, copied into each run | (instructors) |
| classroom.nbgrader_export | nbgrader source notebooks generated from solutions/ | (instructors) |
| classroom.release | the student edition without solutions/ or classroom/ | (instructors) |
"""

__version__ = "0.1.0"
