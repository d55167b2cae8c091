import OctetCore
import OctetIR

/// ResNet-18 / ResNet-50 with torchvision's topology (v1.5: stride on the 3×3 of a
/// bottleneck) and seeded weights, BatchNormalization unfused as exporters emit it.
/// Input `input` [N,3,224,224], output `logits` [N,1000]. The weights are random: the
/// accuracy is meaningless, the speed and numerics are not.
public enum ResNet {
    public enum Depth: Int, Sendable, CaseIterable { case resnet18 = 18, resnet50 = 50 }

    public static func build(_ depth: Depth, seed: UInt64 = 18, classes: Int = 1000) -> Graph {
        var b = ResNetBuilder(name: "resnet\(depth.rawValue)", seed: seed)
        var x = b.builder.input("input", dims: [nil, 3, 224, 224])
        x = b.convBN(x, name: "conv1", bnName: "bn1", in: 3, out: 64, kernel: 7, stride: 2, pad: 3, relu: true, reluName: "relu")
        x = b.builder.add(.maxPool(Window2D(kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]), ceilMode: false), [x], name: "maxpool")
        let widths = [64, 128, 256, 512]
        let blocks = depth == .resnet18 ? [2, 2, 2, 2] : [3, 4, 6, 3]
        var channels = 64
        for (stage, (width, count)) in zip(widths, blocks).enumerated() {
            for i in 0..<count {
                let stride = (i == 0 && stage > 0) ? 2 : 1
                let prefix = "layer\(stage + 1).\(i)"
                if depth == .resnet18 {
                    x = b.basicBlock(x, prefix: prefix, in: channels, out: width, stride: stride)
                    channels = width
                } else {
                    x = b.bottleneck(x, prefix: prefix, in: channels, width: width, stride: stride)
                    channels = width * 4
                }
            }
        }
        x = b.builder.add(.globalAveragePool, [x], name: "avgpool")
        x = b.builder.add(.flatten(axis: 1), [x], name: "flatten")
        let w = b.weight("fc.weight", [classes, channels], fanIn: channels)
        let bias = b.vector("fc.bias", classes, -0.01, 0.01)
        x = b.builder.add(.gemm(GemmAttributes(transB: true)), [x, w, bias], name: "fc", outputNames: ["logits"])
        b.builder.output("logits", dims: [nil, classes])
        return b.builder.graph
    }
}

/// Helpers that append named ResNet pieces with seeded parameters.
struct ResNetBuilder {
    var builder: GraphBuilder
    var rng: SeededRandom

    init(name: String, seed: UInt64) {
        builder = GraphBuilder(name: name)
        rng = SeededRandom(seed: seed)
    }

    mutating func weight(_ name: String, _ dims: [Int], fanIn: Int) -> String {
        // Uniform with the variance of Kaiming-normal (gain √2): keeps activations in range.
        let bound = (6.0 / Float(fanIn)).squareRoot()
        let values = (0..<Shape(dims).elementCount).map { _ in rng.uniform(-bound, bound) }
        return builder.constant(name, Tensor(computed: Shape(dims), floats: values))
    }

    mutating func vector(_ name: String, _ n: Int, _ lo: Float, _ hi: Float) -> String {
        let values = (0..<n).map { _ in rng.uniform(lo, hi) }
        return builder.constant(name, Tensor(computed: [n], floats: values))
    }

    mutating func convBN(_ x: String, name: String, bnName: String, in cin: Int, out cout: Int, kernel: Int,
                         stride: Int, pad: Int, relu: Bool, reluName: String? = nil) -> String {
        let w = weight(name + ".weight", [cout, cin, kernel, kernel], fanIn: cin * kernel * kernel)
        let window = Window2D(kernel: [kernel, kernel], strides: [stride, stride], pads: [pad, pad, pad, pad])
        var y = builder.add(.conv(window, group: 1), [x, w], name: name)
        let gamma = vector(bnName + ".weight", cout, 0.4, 0.8)
        let beta = vector(bnName + ".bias", cout, -0.1, 0.1)
        let mean = vector(bnName + ".running_mean", cout, -0.1, 0.1)
        let variance = vector(bnName + ".running_var", cout, 0.5, 1.5)
        y = builder.add(.batchNormalization(epsilon: 1e-5), [y, gamma, beta, mean, variance], name: bnName)
        if relu { y = builder.add(.relu, [y], name: reluName ?? bnName + ".relu") }
        return y
    }

    mutating func basicBlock(_ x: String, prefix: String, in cin: Int, out cout: Int, stride: Int) -> String {
        var y = convBN(x, name: prefix + ".conv1", bnName: prefix + ".bn1", in: cin, out: cout, kernel: 3, stride: stride, pad: 1, relu: true)
        y = convBN(y, name: prefix + ".conv2", bnName: prefix + ".bn2", in: cout, out: cout, kernel: 3, stride: 1, pad: 1, relu: false)
        var identity = x
        if stride != 1 || cin != cout {
            identity = convBN(x, name: prefix + ".downsample.0", bnName: prefix + ".downsample.1", in: cin, out: cout,
                              kernel: 1, stride: stride, pad: 0, relu: false)
        }
        let sum = builder.add(.add, [y, identity], name: prefix + ".add")
        return builder.add(.relu, [sum], name: prefix + ".relu")
    }

    mutating func bottleneck(_ x: String, prefix: String, in cin: Int, width: Int, stride: Int) -> String {
        let cout = width * 4
        var y = convBN(x, name: prefix + ".conv1", bnName: prefix + ".bn1", in: cin, out: width, kernel: 1, stride: 1, pad: 0, relu: true)
        y = convBN(y, name: prefix + ".conv2", bnName: prefix + ".bn2", in: width, out: width, kernel: 3, stride: stride, pad: 1, relu: true)
        y = convBN(y, name: prefix + ".conv3", bnName: prefix + ".bn3", in: width, out: cout, kernel: 1, stride: 1, pad: 0, relu: false)
        var identity = x
        if stride != 1 || cin != cout {
            identity = convBN(x, name: prefix + ".downsample.0", bnName: prefix + ".downsample.1", in: cin, out: cout,
                              kernel: 1, stride: stride, pad: 0, relu: false)
        }
        let sum = builder.add(.add, [y, identity], name: prefix + ".add")
        return builder.add(.relu, [sum], name: prefix + ".relu")
    }
}
