"""The paper's pretraining ablations (Table 1 a-f) as rows of configs, a runner that pretrains and evaluates each
row, and the tables in the paper's layout. Row configs: configs/pretrain/ablations/{table}{index}_{name}.py."""
