import torch

from evonorm.compile.layer import GraphLayer
from evonorm.space import KNOWN_LAYERS
from evonorm.transfer.gan import GAN, generator, run_gan, train_classifier

SMOKE = GAN["smoke"]


def test_the_generator_norm_acts_are_the_layer():
    gen = generator(KNOWN_LAYERS["evonorm_b0"], SMOKE)
    assert sum(isinstance(m, GraphLayer) for m in gen.modules()) == 2
    assert not any(isinstance(m, torch.nn.ReLU | torch.nn.BatchNorm2d) for m in gen.modules())
    assert gen(torch.randn(3, SMOKE.z_dim)).shape == (3, 1, 28, 28)


def test_the_feature_space_tells_real_images_from_noise(smoke_data):
    from torchmetrics.image.fid import FrechetInceptionDistance

    features = train_classifier(smoke_data, SMOKE)
    real = smoke_data.images["rerank"].float() / 127.5 - 1

    def fid(fake):
        metric = FrechetInceptionDistance(feature=features)
        metric.update(real[:128], real=True)
        metric.update(fake, real=False)
        return float(metric.compute())

    same = fid(real[128:256])
    noise = fid(torch.rand(128, 1, 28, 28) * 2 - 1)
    assert 0 <= same < noise / 5


def test_layers_share_the_classifier_and_a_nan_layer_is_reported(smoke_data, nan_layer, tmp_path):
    layers = {"bn_relu": KNOWN_LAYERS["bn_relu"], "nan": nan_layer}
    result = run_gan(layers, smoke_data, SMOKE, out=tmp_path, echo=lambda _: None)
    good, bad = result["layers"]["bn_relu"], result["layers"]["nan"]
    assert good["fid"] is not None and good["fid"] >= 0 and not good["diverged"]
    assert bad["fid"] is None and bad["diverged"] and bad["reason"]
    assert 0 <= result["classifier"]["accuracy"] <= 1
    assert (tmp_path / "gan_bn_relu.png").stat().st_size > 200
    assert not (tmp_path / "gan_nan.png").exists()
