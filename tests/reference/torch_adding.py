"""The adding problem in PyTorch, for the README's comparison (not run by
make check: it takes about 7 minutes on 2 cores).

Same setting as `gradsweep train model=... dataset=adding seq_len=50
depth=1 width=64 optimizer=adam lr=3e-3 batch=64 clip=1 steps=2000`:
PyTorch's own nn.RNN (tanh) / nn.LSTM / nn.GRU in float64, a linear readout
of the last hidden state, MSE, global-norm clipping at 1, fresh batches
each step, test MSE on 4,000 new sequences.

    /usr/bin/python3 tests/reference/torch_adding.py
"""
import torch, time
torch.manual_seed(0); torch.set_num_threads(2)
T=50
def batch(n):
    x=torch.zeros(n,T,2,dtype=torch.float64); x[:,:,0]=torch.rand(n,T,dtype=torch.float64)
    a=torch.randint(0,T//2,(n,)); b=torch.randint(T//2,T,(n,))
    x[torch.arange(n),a,1]=1; x[torch.arange(n),b,1]=1
    y=x[torch.arange(n),a,0]+x[torch.arange(n),b,0]
    return x,y
for cell in ["rnn","lstm","gru"]:
    torch.manual_seed(1)
    m={"rnn":torch.nn.RNN,"lstm":torch.nn.LSTM,"gru":torch.nn.GRU}[cell](2,64,batch_first=True).double()
    head=torch.nn.Linear(64,1).double()
    opt=torch.optim.Adam(list(m.parameters())+list(head.parameters()),lr=3e-3)
    t0=time.time()
    for s in range(2000):
        x,y=batch(64); out,_=m(x); p=head(out[:,-1,:]).squeeze(1)
        loss=((p-y)**2).mean(); opt.zero_grad(); loss.backward()
        torch.nn.utils.clip_grad_norm_(list(m.parameters())+list(head.parameters()),1.0); opt.step()
    with torch.no_grad():
        x,y=batch(4000); out,_=m(x); p=head(out[:,-1,:]).squeeze(1)
        print(cell, "test MSE %.4f" % ((p-y)**2).mean().item(), "baseline %.4f" % ((1-y)**2).mean().item(), "%.0f s" % (time.time()-t0), flush=True)
