# sine.jl - meta-train FLP on incremental sine waves from Julia, then evaluate.
#
#   FLP_LIBRARY=build/lib/libflp.so julia --project=bindings/julia bindings/julia/examples/sine.jl
using Flp

rng = Rng(1)
net = Net(11)
for w in (32, 32, 96, 32)
    add_relu!(add_linear!(net, w))
end
init!(add_linear!(net, 1), rng)
fb = feedback_init!(Feedback(net), rng; beta=0.5)
rule = rule_set!(Rule(net), Flp.FLP_RULE_PLASTIC_LAST, 3)
lt = Lifetime(net, fb, rule)
meta = Meta(net, fb, rule)
for (g, lr) in ((Flp.FLP_GROUP_WEIGHTS, 1e-4), (Flp.FLP_GROUP_FEEDBACK, 1e-4),
                (Flp.FLP_GROUP_PLASTICITY, 1e-8), (Flp.FLP_GROUP_STRENGTH, 1e-4))
    set_lr!(meta, g, lr)
end

function eval_mse(lt, runs)
    s = SineSampler(1001; batches_per_task=4)
    ep = Episode()
    return sum(run_lifetime(lt, next_episode!(s, ep; split=Flp.FLP_SPLIT_EVAL)) for _ in 1:runs) / runs
end

println("eval_mse_untrained ", eval_mse(lt, 10))
tasks = SineSampler(1; batches_per_task=4)
ep = Episode()
for step in 1:300
    try
        train_step!(meta, lt, next_episode!(tasks, ep))
    catch e
        e isa FlpError && e.status == Flp.FLP_ERR_NONFINITE || rethrow()
    end
end
println("eval_mse ", eval_mse(lt, 10))
save_checkpoint("sine-julia.ckpt", meta, tasks)
