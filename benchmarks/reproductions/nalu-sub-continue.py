"""Experiment behind benchmarks/reproductions/iclr2020-main.md "NALU −": go on training one of
nalm's stored NALU − runs from a state written by nalu-sub-state.ts, in stable-nalu's own network
(`stable_nalu.network.SimpleFunctionStaticNetwork('NALU')`, imported from PYTHONPATH, not copied)
and PyTorch's Adam, with the run's parameters and Adam moments, in float32 (as the published runs)
or float64. Fresh U[1, 2] batches of 128 from torch's generator; the targets are the run's own
subsets (its offset); evaluation every 1,000 iterations on 10,000 + 10,000 items. Prints JSON lines.

    PYTHONPATH=STABLE_NALU_CHECKOUT:SHIMS /usr/bin/python3 benchmarks/reproductions/nalu-sub-continue.py \
      STATE.json f32|f64 ITERATIONS [TORCH_SEED]

STABLE_NALU_CHECKOUT and SHIMS as in benchmarks/speed/RESULTS.md (its stable-nalu check).
"""
import sys, json, time
import torch
import stable_nalu

torch.set_num_threads(1)
dump = json.load(open(sys.argv[1]))
dtype = torch.float64 if sys.argv[2] == 'f64' else torch.float32
iters = int(sys.argv[3])
torch.manual_seed(int(sys.argv[4]) if len(sys.argv) > 4 else 0)

I, H = 100, 2
model = stable_nalu.network.SimpleFunctionStaticNetwork('NALU', input_size=I, hidden_size=H)
model.reset_parameters()
model = model.to(dtype)
def block(key, off, inp, out):
    # One parameter's slice of the state's p, m or v. Ours: [inputSize, units] row-major; PyTorch: [out, in].
    v = dump[key][off:off + inp * out]
    return torch.tensor(v, dtype=torch.float64).reshape(inp, out).t().contiguous().to(dtype)
l1 = model.layer_1.layer
l2 = model.layer_2.layer
layout = [
    (l1.nac_add.W_hat, 0, I, H), (l1.nac_add.M_hat, 200, I, H), (l1.G_add, 400, I, H),
    (l2.nac_add.W_hat, 600, H, 1), (l2.nac_add.M_hat, 602, H, 1), (l2.G_add, 604, H, 1),
]
with torch.no_grad():
    for param, off, inp, out in layout:
        param.copy_(block('p', off, inp, out))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
t0 = dump['t']
for param, off, inp, out in layout:
    opt.state[param] = {
        'step': torch.tensor(float(t0)),
        'exp_avg': block('m', off, inp, out),
        'exp_avg_sq': block('v', off, inp, out),
    }

o = dump['offset']
st = [o + s for s in dump['layout']['starts']]
L = dump['layout']['length']
def targets(x):
    a = x[:, st[0]:st[0] + L].sum(1)
    b = x[:, st[1]:st[1] + L].sum(1)
    return (a - b).unsqueeze(1)
def draw(n, lo, hi):
    x = torch.rand(n, I, dtype=dtype) * (hi - lo) + lo
    return x, targets(x)
g = torch.Generator().manual_seed(8689336)
xe = torch.rand(10000, I, generator=g, dtype=dtype) * 4 + 2
te = targets(xe)
g = torch.Generator().manual_seed(43953907)
xi = torch.rand(10000, I, generator=g, dtype=dtype) + 1
ti = targets(xi)
crit = torch.nn.MSELoss()
def test(x, t):
    with torch.no_grad(), model.no_internal_logging(), model.no_random():
        return crit(model(x), t).item()
start = time.time()
print(json.dumps({'seed': dump['seed'], 't0': t0, 'dtype': sys.argv[2], 'stored_extrapolation_at_t0': dump.get('extrapolation')}))
for it in range(iters + 1):
    if it % 1000 == 0:
        print(json.dumps({'step': t0 + it, 'interpolation': test(xi, ti), 'extrapolation': test(xe, te)}), flush=True)
    if it == iters:
        break
    x, t = draw(128, 1, 2)
    opt.zero_grad()
    loss = crit(model(x), t)
    loss.backward()
    opt.step()
print(json.dumps({'secs': time.time() - start}), file=sys.stderr)
