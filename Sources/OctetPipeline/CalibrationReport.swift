import Foundation
import OctetCalibration
import OctetCore

/// The Markdown report of a calibration, with SVG plots (histogram, threshold, KL curve) of
/// the worst layers.
public enum CalibrationReport {
    /// - Parameters:
    ///   - measured: per-tensor SQNR of INT8 against FP32 (from `perLayerSQNR`).
    ///   - diagnosis: weights-only vs activations-only INT8 (`diagnoseQuantization`), if measured.
    ///   - plots: SVG files are written here and linked by file name.
    public static func markdown(_ q: QuantizedModel, config: QuantConfig, measured: [String: Double], sqnrSamples: Int,
                                diagnosis: QuantizationDiagnosis? = nil, modelName: String, plotDirectory: String,
                                worst: Int = 3) throws -> String {
        var md = "# Calibration report: \(modelName)\n\n"
        md += "- method: `\(config.method)`, \(q.samples) samples, \(String(format: "%.1f", q.seconds)) s\n"
        md += "- weights: \(config.quantize.perChannelWeights ? "per-channel" : "per-tensor") s\(config.quantize.weightBits), biases s32\n"
        md += config.symmetricActivations
            ? "- activations: s8 symmetric (zero point 0, scale threshold/127, as TensorRT requires)\n"
            : "- activations: u8; tensors proven non-negative use 256 levels (zero point 0), tensors bounded below by −B (HardSwish's output −0.375, SiLU's −0.28; a HardSwish's input, which it reads from −3) 255 steps over [−B, threshold] (\(q.table.entries.filter { $0.lowerBound != nil }.count) here), others 128 per side (zero point 128)\n"
        let switched = q.table.entries.filter { $0.method.hasPrefix("mse (kl") }
        if config.overClipMarginDB.isFinite {
            md += "- over-clipping guard: a KL threshold whose histogram-estimated SQNR is more than \(config.overClipMarginDB) dB below the MSE-optimal threshold's is replaced by the MSE threshold (\(switched.count) tensor(s) here)\n"
        } else {
            md += "- over-clipping guard: off\n"
        }
        if let margin = config.sensitivityMarginDB {
            func layers(_ names: [String]) -> String {
                names.map { "`\($0)` (\(String(format: "%.1f", q.sensitivity[$0] ?? 0)) dB)" }.joined(separator: ", ")
            }
            md += "- weight sensitivity: each convolution's output with quantized weights vs FP32 weights on the same FP32 input (\(config.sensitivitySamples) samples); layers more than \(margin) dB below the median stay FP32"
            md += config.sensitivityBudget.map { String(format: " within %g%% of the convolutions' multiply-adds", $0 * 100) } ?? ""
            md += ": " + (q.autoExcluded.isEmpty ? "none" : layers(q.autoExcluded))
            md += q.sensitiveOverBudget.isEmpty ? "\n" : "; as sensitive but quantized, over that budget: \(layers(q.sensitiveOverBudget))\n"
        }
        if !config.quantize.excludedNodes.isEmpty || !config.quantize.excludedOpTypes.isEmpty {
            md += "- kept in FP32: " + (config.quantize.excludedNodes.sorted() + config.quantize.excludedOpTypes.sorted()).map { "`\($0)`" }.joined(separator: ", ") + "\n"
        }
        if config.crossLayerEqualization {
            md += "- cross-layer equalization: consecutive convolutions rescaled channel by channel to equal weight ranges before calibration (Nagel et al. 2019; a ReLU6 between them became ReLU)\n"
        }
        if let scales = q.weightScales {
            md += "- weight ranges: chosen on each convolution's output on the statistics samples (\(scales.count) convolution(s)), not on the weights alone\n"
        }
        if let rounded = q.roundedUp {
            let flips = rounded.reduce(0) { $0 + $1.value.count }
            md += "- weight rounding: AdaRound (Nagel et al. 2020) on each convolution's output error over \(config.adaRound.samples) samples' FP32 inputs, \(config.adaRound.iterations) iterations (\(rounded.count) convolution(s), \(flips) weights)\n"
        }
        if let absorbed = q.absorbedBiases {
            md += "- high-bias absorption: \(absorbed.count) convolution(s) moved max(0, mean − 3σ) of each output channel (statistics samples) into the next layer's bias\n"
        }
        if config.biasCorrection {
            md += "- bias correction: each quantized convolution's bias absorbs the mean output shift its weight quantization causes (measured on the same samples; Nagel et al. 2019)"
            md += config.biasCorrectionCap.map { String(format: ", unless it moves a bias by %g times its value or more (NNCF's threshold)", $0) } ?? ""
            md += "; applied to \(q.biasCorrections.count) convolution(s)\n"
        }
        let nonFinite = q.table.entries.reduce(Int64(0)) { $0 + $1.nonFinite }
        md += "- NaN/Inf activations seen (counted, never binned): \(nonFinite)\n\n"
        if let d = diagnosis { md += diagnosisSection(d) }
        if let a = q.accuracy { md += accuracySection(a) }
        md += "Measured SQNR compares each INT8 tensor with the FP32 one on \(sqnrSamples) samples (errors accumulate through the network); estimated SQNR is the quantization noise of the tensor alone, from its histogram.\n\n"
        md += "| tensor | method | threshold | observed max | est. SQNR dB | measured SQNR dB |\n|---|---|---|---|---|---|\n"
        let ordered = q.table.entries.sorted { (measured[$0.tensor] ?? .infinity) < (measured[$1.tensor] ?? .infinity) }
        for e in ordered {
            md += "| `\(e.tensor)` | \(e.method) | \(String(format: "%.4g", e.threshold)) | \(String(format: "%.4g", e.observedMax)) | "
            md += "\(String(format: "%.1f", e.estimatedSQNR)) | \(measured[e.tensor].map { String(format: "%.1f", $0) } ?? "–") |\n"
        }
        if !q.sensitivity.isEmpty {
            md += "\n## Weight sensitivity per convolution\n\n"
            md += "Each convolution's output with quantized weights against FP32 weights, on the same FP32 input (weights alone; worst first)"
            md += config.sensitivityMarginDB.map { String(format: "; more than %.1f dB below the median stays FP32", $0) } ?? ""
            md += ".\n\n| convolution | weight-quantization SQNR dB | kept in FP32 |\n|---|---|---|\n"
            let excluded = Set(q.autoExcluded)
            for (name, db) in q.sensitivity.sorted(by: { ($0.value, $0.key) < ($1.value, $1.key) }) {
                md += "| `\(name)` | \(String(format: "%.1f", db)) | \(excluded.contains(name) ? "yes" : "") |\n"
            }
        }
        md += "\n## Worst layers\n\n"
        for e in ordered.prefix(worst) {
            guard let h = q.histograms[e.tensor] else { continue }
            let file = "plot_" + e.tensor.map { $0.isLetter || $0.isNumber ? $0 : "_" } .map(String.init).joined() + ".svg"
            try Data(svg(h, entry: e).utf8).write(to: URL(fileURLWithPath: plotDirectory).appendingPathComponent(file))
            md += "### `\(e.tensor)`\n\n![histogram and KL curve](\(file))\n\n"
        }
        return md
    }

    /// Weights-only vs activations-only INT8 at the model's output.
    static func diagnosisSection(_ d: QuantizationDiagnosis) -> String {
        var md = "## Weights or activations?\n\n"
        md += "The model's output against FP32 on \(d.samples) sample(s) (the logits of a classifier), with each half of the quantization alone:\n\n"
        md += "| quantized | output SQNR dB |\n|---|---|\n"
        md += String(format: "| weights and activations (the INT8 model) | %.1f |\n", d.int8DB)
        md += String(format: "| weights only (activations FP32) | %.1f |\n", d.weightsOnlyDB)
        md += String(format: "| activations only (weights and biases FP32) | %.1f |\n\n", d.activationsOnlyDB)
        md += d.verdict.prefix(1).uppercased() + d.verdict.dropFirst() + ".\n\n"
        return md
    }

    /// What `--max-drop` did: the bound, the metric before and after, each layer returned to FP32
    /// with what it recovered alone, and the ranking of every candidate.
    static func accuracySection(_ a: AccuracyControlReport) -> String {
        func f(_ v: Double) -> String { String(format: "%.2f", v) }
        var md = "## Accuracy-driven mode (--max-drop \(f(a.maxDrop)) --metric \(a.metric.rawValue))\n\n"
        md += "On \(a.validationSamples) held-out calibration samples"
        md += a.confidence > 0
            ? String(format: ", at %.0f%% confidence (the metric at that quantile of %d bootstrap resamplings of the samples)", 100 * a.confidence,
                     ValidationScores.resamplings)
            : " (their plain metric, --confidence 0)"
        md += ": FP32 \(f(a.fp32)), every layer INT8 \(f(a.allInt8)), "
        md += "the model written \(f(a.final)) (drop \(f(a.fp32 - a.final)) points): the bound is \(a.met ? "met" : "**not met**")."
        if a.metric == .sqnr { md += " (A drop of P points is an output SQNR of −10·log10(P/100) dB.)" }
        md += "\n\n"
        if a.returned.isEmpty {
            md += a.met ? "No layer had to return to FP32.\n\n" : "No set of layers returned to FP32 met the bound.\n\n"
        } else {
            md += "Returned to FP32 (each one needed: without any of them the bound fails):\n\n| layer | metric gain alone | metric when returned |\n|---|---|---|\n"
            for r in a.returned { md += "| `\(r.layer)` | \(f(r.gainAlone)) | \(f(r.metricAfter)) |\n" }
            md += "\n"
        }
        if !a.ranking.isEmpty {
            md += "Every candidate with its gain when returned to FP32 alone, best first:\n\n| layer | gain |\n|---|---|\n"
            for r in a.ranking { md += "| `\(r.layer)` | \(f(r.gainAlone)) |\n" }
            md += "\n"
        }
        return md
    }

    /// log10 histogram of |x| (blue), chosen threshold (red), KL divergence per candidate (green).
    static func svg(_ h: AbsHistogram, entry: CalibrationTable.Entry) -> String {
        let w = 640.0, hgt = 240.0
        guard let last = h.bins.lastIndex(where: { $0 > 0 }) else { return "<svg xmlns='http://www.w3.org/2000/svg'/>" }
        let n = Double(last + 1)
        let logs = h.bins[0...last].map { $0 > 0 ? log10(Double($0)) : 0 }
        let top = max(logs.max() ?? 1, 1)
        var s = "<svg xmlns='http://www.w3.org/2000/svg' width='\(Int(w))' height='\(Int(hgt))' font-family='sans-serif' font-size='11'>"
        s += "<rect width='100%' height='100%' fill='white'/>"
        var path = "M0,\(hgt)"
        for (i, v) in logs.enumerated() { path += " L\(String(format: "%.1f", Double(i) / n * w)),\(String(format: "%.1f", hgt - v / top * (hgt - 20)))" }
        s += "<path d='\(path) L\(w),\(hgt) Z' fill='#9ecae1' stroke='#3182bd'/>"
        let tx = entry.threshold / (h.binWidth * n) * w
        s += "<line x1='\(tx)' x2='\(tx)' y1='0' y2='\(hgt)' stroke='red' stroke-width='2'/>"
        let curve = ThresholdSearch.klCurve(h.bins, levels: ThresholdSearch.levels(nonNegative: entry.nonNegative || entry.lowerBound != nil)).filter { $0.divergence.isFinite }
        if let maxD = curve.map(\.divergence).max(), let minD = curve.map(\.divergence).min(), maxD > minD {
            var kl = ""
            for (k, (i, d)) in curve.enumerated() {
                kl += (k == 0 ? "M" : " L") + String(format: "%.1f,%.1f", Double(i) / n * w, 20 + (d - minD) / (maxD - minD) * (hgt - 40))
            }
            s += "<path d='\(kl)' fill='none' stroke='green'/>"
        }
        s += "<text x='6' y='14'>\(entry.tensor): log10 count of |x| (blue), KL(P‖Q) per candidate (green), threshold \(String(format: "%.4g", entry.threshold)) (red), max \(String(format: "%.4g", entry.observedMax))</text></svg>"
        return s
    }
}
