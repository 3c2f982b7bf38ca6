# convenience.jl - hand-written layer over the generated @ccall wrappers (Flp.jl).
#
# Errors become exceptions carrying libflp's message; handles become Julia
# objects freed by finalizers (or at once with `close`). Arrays: libflp is
# row-major, Julia column-major, so a Julia `Matrix{Float32}` of size
# (features, batch) IS the C array [batch, features]: pass it as is, no copy.

export FlpError, check, version, Rng, Net, Feedback, Rule, Episode, SineSampler, Lifetime, Meta,
       add_linear!, add_relu!, init!, forward, feedback_init!, rule_set!, next_episode!,
       run_lifetime, predict, set_lr!, train_step!, save_checkpoint, load_checkpoint

"""
    FlpError(status, name, message)

A libflp call failed: `status` is the `flp_status` code, `name` its name
("ERR_SHAPE") and `message` libflp's thread-local message for the failure.
"""
struct FlpError <: Exception
    status::Cint
    name::String
    message::String
end
Base.showerror(io::IO, e::FlpError) = print(io, "FlpError(", e.name, "): ", e.message)

"""
    check(status)

Throw an `FlpError` for a non-zero `flp_status`, with `flp_last_error()`.
"""
function check(status::Integer)
    status == FLP_OK && return nothing
    msg = unsafe_string(flp_last_error())
    isempty(msg) && (msg = unsafe_string(flp_strerror(status)))
    throw(FlpError(status, unsafe_string(flp_status_name(status)), msg))
end

"""The version string of the loaded libflp."""
version() = unsafe_string(flp_version())

function __init__()
    v = flp_version_number()
    if div(v, 10000) != FLP_VERSION_MAJOR
        error("libflp at $(libflp) has version $(version()); Flp.jl needs major version " *
              "$(FLP_VERSION_MAJOR) (same major = same ABI)")
    end
end

# ---- handles -----------------------------------------------------------------
# Each wrapper owns one pointer, freed once by `close` or its finalizer. A
# handle that refers to others (a rule to its network) keeps them in `deps`,
# and they count it in `nchildren`: a handle is only freed once nothing that
# refers to it is left, whatever order the finalizers run in (closing it
# earlier marks it `pending` and the last dependent's close frees it).
abstract type Handle end

function Base.close(h::Handle)
    h.ptr == C_NULL && return nothing
    if h.nchildren > 0
        h.pending = true
        return nothing
    end
    h.free(h.ptr)
    h.ptr = C_NULL
    for d in h.deps
        d.nchildren -= 1
        d.pending && d.nchildren == 0 && close(d)
    end
    empty!(h.deps)
    return nothing
end

function _create(f, T, args...)
    out = Ref{Ptr{T}}(C_NULL)
    check(f(args..., out))
    return out[]
end

macro handle(name, ctype, free)
    quote
        mutable struct $(esc(name)) <: Handle
            ptr::Ptr{$(esc(ctype))}
            free::Function
            deps::Vector{Any}
            nchildren::Int
            pending::Bool
            function $(esc(name))(p::Ptr{$(esc(ctype))}, deps=Any[])
                h = new(p, $(esc(free)), deps, 0, false)
                for d in deps
                    d.nchildren += 1
                end
                finalizer(close, h)
                return h
            end
        end
    end
end

@handle Rng flp_rng flp_rng_free
@handle Net flp_net flp_net_free
@handle Feedback flp_feedback flp_feedback_free
@handle Rule flp_rule flp_rule_free
@handle Episode flp_episode flp_episode_free
@handle SineSampler flp_sampler flp_sampler_free
@handle Lifetime flp_lifetime flp_lifetime_free
@handle Meta flp_meta flp_meta_free

Rng(seed::Integer) = Rng(_create(flp_rng_create, flp_rng, UInt64(seed)))

"""
    Net(n_in)

An empty dense network taking `n_in` features; add layers with `add_linear!`,
`add_relu!`.
"""
function Net(n_in::Integer)
    shape = Int64[n_in]
    return Net(GC.@preserve shape _create(flp_net_create, flp_net, Cint(1), pointer(shape)))
end
add_linear!(net::Net, out::Integer; bias::Bool=true) = (check(flp_net_add_linear(net.ptr, out, Cint(bias))); net)
add_relu!(net::Net) = (check(flp_net_add_relu(net.ptr)); net)
init!(net::Net, rng::Rng; scheme=FLP_INIT_KAIMING_NORMAL) = (check(flp_net_init(net.ptr, scheme, rng.ptr)); net)

function io_size(net::Net)
    i, o = Ref{Int64}(0), Ref{Int64}(0)
    check(flp_net_io_size(net.ptr, i, o))
    return i[], o[]
end

"""
    forward(net, x::Matrix{Float32}) -> Matrix{Float32}

`x` is (n_in, batch) in Julia's column-major order, i.e. the C array
[batch, n_in]; the result is (n_out, batch). No copies.
"""
function forward(net::Net, x::StridedMatrix{Float32})
    n_in, n_out = io_size(net)
    size(x, 1) == n_in || throw(DimensionMismatch("x has $(size(x, 1)) rows, the network takes $n_in"))
    stride(x, 1) == 1 && stride(x, 2) == n_in || throw(ArgumentError("x must be contiguous"))
    y = Matrix{Float32}(undef, n_out, size(x, 2))
    GC.@preserve x y check(flp_net_forward(net.ptr, size(x, 2), pointer(x), pointer(y)))
    return y
end

Feedback(net::Net) = Feedback(_create(flp_feedback_create, flp_feedback, net.ptr), Any[net])
feedback_init!(fb::Feedback, rng::Rng; beta::Real=0.5) = (check(flp_feedback_init(fb.ptr, rng.ptr, Float32(beta))); fb)

Rule(net::Net; kind=FLP_RULE_OJA) = Rule(_create(flp_rule_create, flp_rule, net.ptr, kind), Any[net])
rule_set!(rule::Rule, key, value::Real) = (check(flp_rule_set(rule.ptr, key, Float64(value))); rule)

Episode() = Episode(_create(flp_episode_create, flp_episode))

"""
    SineSampler(seed; batches_per_task=40)

The incremental-sine task sampler.
"""
function SineSampler(seed::Integer; batches_per_task::Integer=40)
    s = SineSampler(_create(flp_sampler_create_sine, flp_sampler, UInt64(seed)))
    check(flp_sampler_set(s.ptr, FLP_SINE_BATCHES_PER_TASK, Float64(batches_per_task)))
    return s
end
next_episode!(s::SineSampler, ep::Episode; split=FLP_SPLIT_TRAIN) = (check(flp_sampler_next(s.ptr, split, ep.ptr)); ep)

Lifetime(net::Net, fb::Feedback, rule::Rule) =
    Lifetime(_create(flp_lifetime_create, flp_lifetime, net.ptr, fb.ptr, rule.ptr), Any[net, fb, rule])

"""
    run_lifetime(lt, ep; gradient=false) -> Float32

Run a lifetime on an episode; return the query loss (with `gradient`, add
the meta-gradient to the handles' gradients).
"""
function run_lifetime(lt::Lifetime, ep::Episode; gradient::Bool=false)
    loss = Ref{Cfloat}(0)
    check(flp_lifetime_run(lt.ptr, ep.ptr, Cint(gradient), loss))
    return loss[]
end

"""
    predict(lt, net, x::Matrix{Float32}) -> Matrix{Float32}

Outputs (n_out, n) with the last run's final weights, for x (n_in, n).
"""
function predict(lt::Lifetime, net::Net, x::StridedMatrix{Float32})
    n_in, n_out = io_size(net)
    size(x, 1) == n_in || throw(DimensionMismatch("x has $(size(x, 1)) rows, the network takes $n_in"))
    y = Matrix{Float32}(undef, n_out, size(x, 2))
    GC.@preserve x y check(flp_lifetime_predict(lt.ptr, size(x, 2), pointer(x), pointer(y)))
    return y
end

Meta(net::Net, fb::Feedback, rule::Rule) =
    Meta(_create(flp_meta_create, flp_meta, net.ptr, fb.ptr, rule.ptr), Any[net, fb, rule])
set_lr!(meta::Meta, group, lr::Real) = (check(flp_meta_set_lr(meta.ptr, group, Float64(lr))); meta)

"""
    train_step!(meta, lt, ep) -> Float32

One meta-step: zero the gradients, run the lifetime with gradient, Adam step.
"""
function train_step!(meta::Meta, lt::Lifetime, ep::Episode)
    loss = Ref{Cfloat}(0)
    check(flp_meta_train_step(meta.ptr, lt.ptr, ep.ptr, loss))
    return loss[]
end

save_checkpoint(path::AbstractString, meta::Meta, s::Union{SineSampler,Nothing}=nothing) =
    check(flp_checkpoint_save(path, meta.ptr, s === nothing ? Ptr{flp_sampler}(C_NULL) : s.ptr))
load_checkpoint(path::AbstractString, meta::Meta, s::Union{SineSampler,Nothing}=nothing) =
    check(flp_checkpoint_load(path, meta.ptr, s === nothing ? Ptr{flp_sampler}(C_NULL) : s.ptr))
