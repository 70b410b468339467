#!/usr/bin/env escript
%% Erlang `peer` over ssh: connect time and call round trip against one sshd.
%% Usage: escript _rivals_erlang.escript PORT USER KEY KNOWN_HOSTS CONNECTS CALLS
main([Port, User, Key, Known, Connects, Calls]) ->
    Ssh = os:find_executable("ssh"),
    Args = ["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "UserKnownHostsFile=" ++ Known,
            "-o", "StrictHostKeyChecking=yes", "-i", Key, "-p", Port, User ++ "@127.0.0.1", "erl"],
    Start = fun() ->
        {ok, Peer, _} = peer:start_link(#{exec => {Ssh, Args}, connection => standard_io,
                                          wait_boot => 30000}),
        Peer
    end,
    Conn = [begin
                T0 = erlang:monotonic_time(microsecond),
                P = Start(),
                _ = peer:call(P, erlang, node, []),
                T = erlang:monotonic_time(microsecond) - T0,
                peer:stop(P),
                T / 1000
            end || _ <- lists:seq(1, list_to_integer(Connects))],
    P = Start(),
    Rtt = [begin
               T0 = erlang:monotonic_time(microsecond),
               _ = peer:call(P, erlang, node, []),
               erlang:monotonic_time(microsecond) - T0
           end || _ <- lists:seq(1, list_to_integer(Calls))],
    peer:stop(P),
    io:format("{\"name\": \"erlang peer\", \"connect_p50_ms\": ~p, \"call_p50_us\": ~p, \"call_p99_us\": ~p}~n",
              [median(Conn), median(Rtt), pct(Rtt, 0.99)]).

median(Xs) -> lists:nth(length(Xs) div 2 + 1, lists:sort(Xs)).
pct(Xs, Q) ->
    S = lists:sort(Xs),
    lists:nth(max(1, min(length(S), ceil(Q * length(S)))), S).
