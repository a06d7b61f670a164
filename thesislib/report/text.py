"""Every caption, header and label of the thesis' tables, in one place: English (`en`, the default) and
Korean (`ko`, for the thesis itself; compiles with `\\usepackage{kotex}`).

`t(key, lang, **values)` returns the string for `key` with `{placeholders}` filled. Strings are LaTeX
(they go into the .tex as they are): write `\\%`, `$\\pm$`, `$\\times$`, `$\\rightarrow$` yourself.
No caption names a table number: the thesis refers to a table by its `\\label` (`\\ref{tab:...}`).

The bold rule, one for every table (`BOLD_RULE`): in a table that compares methods on one data set,
bold marks the best value of each metric (for per-class tables: of each class; for the data-dependency
table: of each labeled share) among the compared methods; the oracle (trained on all target labels) and
numbers reported elsewhere are never bold, and
nothing is bold where the best shown value is shared by every method (e.g. all 0.0).
"""

LANGS = ("en", "ko")

BOLD_RULE = {
    "en": "Bold: the best value of each {what} among the compared methods (never the oracle).",
    "ko": "굵은 글씨: 비교한 방법 중 {what}별 최고값(오라클 제외).",
}

TEXT = {
    # ------------------------------------------------------------ shared words
    "seeds": {"en": "mean $\\pm$ std over {n} seeds ({seeds})", "ko": "시드 {n}개({seeds})의 평균 $\\pm$ 표준편차"},
    "seeds_mean": {"en": "mean of {n} seeds ({seeds})", "ko": "시드 {n}개({seeds})의 평균"},
    "one_seed": {"en": "one seed (seed {seed})", "ko": "시드 1개(시드 {seed})"},
    "model": {"en": "DeepLabV3+ with a {encoder} encoder {init} at {h}$\\times${w} pixels{crop}",
              "ko": "{h}$\\times${w} 해상도에서{crop} {init} {encoder} 인코더의 DeepLabV3+"},
    "crop": {"en": " (trained on {h}$\\times${w} crops)", "ko": "({h}$\\times${w} 크롭으로)"},
    "init_scratch": {"en": "trained from scratch", "ko": "처음부터 학습한"},
    "init_imagenet": {"en": "initialised from ImageNet weights and trained", "ko": "ImageNet 가중치로 초기화해 학습한"},
    "model_short": {"en": "DeepLabV3+ {encoder}, {h}$\\times${w}", "ko": "DeepLabV3+ {encoder}, {h}$\\times${w}"},
    "data_embedded": {
        "en": "the synthetic stand-in data sets in the layout of GTA5 and Cityscapes",
        "ko": "GTA5와 Cityscapes의 형식을 따르는 합성 대체 데이터셋"},
    "data_real": {"en": "GTA5 and Cityscapes", "ko": "GTA5와 Cityscapes"},
    "val_embedded": {"en": "the target validation set ({n} images)", "ko": "타깃 검증 세트({n}장)"},
    "val_real": {"en": "Cityscapes val ({n} images)", "ko": "Cityscapes 검증 세트({n}장)"},
    "protocol_ours": {
        "en": "whole images predicted at {h}$\\times${w}, logits upsampled to the label resolution ({lh}$\\times${lw}; labels never resized)",
        "ko": "전체 영상을 {h}$\\times${w}에서 예측하고 로짓을 레이블 해상도({lh}$\\times${lw})로 업샘플링(레이블은 크기 변경 없음)"},
    "protocol_published": {
        "en": "whole images of Cityscapes val at full resolution (2048$\\times$1024)",
        "ko": "Cityscapes 검증 세트 전체 해상도(2048$\\times$1024) 전체 영상"},
    "not_comparable": {"en": "Values from different groups are not comparable: the data, backbones and resolutions differ.",
                       "ko": "그룹이 다르면 데이터, 백본, 해상도가 달라 값을 직접 비교할 수 없다."},
    "class": {"en": "class", "ko": "클래스"},
    "what_class": {"en": "class", "ko": "클래스"},
    "what_metric": {"en": "metric", "ko": "지표"},
    "what_fraction": {"en": "labeled share", "ko": "레이블 비율"},
    "miou": {"en": "mIoU", "ko": "mIoU"},
    "pixel_accuracy": {"en": "Pixel acc.", "ko": "픽셀 정확도"},
    "method": {"en": "Method", "ko": "방법"},
    "type": {"en": "Type", "ko": "유형"},
    "source_ref": {"en": "Source", "ko": "출처"},
    "reported": {"en": "reported", "ko": "보고"},
    "reproduced": {"en": "reproduced", "ko": "재현"},
    "images": {"en": "images", "ko": "장"},
    "labeled_images": {"en": "Labeled images", "ko": "레이블 영상 수"},
    # ------------------------------------------------------------ datasets
    "datasets.caption": {
        "en": "Data sets: GTA5 (synthetic, source domain) and Cityscapes (real, target domain), as used in this work{where}. "
              "Labeled images are split into training and validation; unlabeled images are only pseudo-labeled. "
              "Image size is width$\\times$height.",
        "ko": "데이터셋: GTA5(합성, 소스 도메인)와 Cityscapes(실제, 타깃 도메인){where}. 레이블 영상은 학습/검증으로 나뉘며, "
              "레이블 없는 영상은 의사 레이블링에만 쓴다. 영상 크기는 너비$\\times$높이."},
    "datasets.where_embedded": {"en": " (here: synthetic stand-ins generated in the layout of both data sets)",
                                "ko": " (여기서는 두 데이터셋의 형식으로 생성한 합성 대체 데이터)"},
    "datasets.dataset": {"en": "Data set", "ko": "데이터셋"},
    "datasets.type": {"en": "Type", "ko": "유형"},
    "datasets.train": {"en": "Train", "ko": "학습"},
    "datasets.val": {"en": "Val", "ko": "검증"},
    "datasets.unlabeled": {"en": "Unlabeled", "ko": "레이블 없음"},
    "datasets.classes": {"en": "Classes", "ko": "클래스"},
    "datasets.size": {"en": "Image size", "ko": "영상 크기"},
    "datasets.labeled": {"en": "Labeled images", "ko": "레이블 영상"},
    "datasets.synthetic": {"en": "synthetic", "ko": "합성"},
    "datasets.real": {"en": "real", "ko": "실제"},
    "datasets.source": {"en": "source", "ko": "소스"},
    "datasets.target": {"en": "target", "ko": "타깃"},
    "datasets.excluded": {"en": "Image--label pairs excluded as broken: {n}.", "ko": "손상으로 제외한 영상--레이블 쌍: {n}개."},
    # ------------------------------------------------------------ direct transfer
    "direct.caption": {
        "en": "Direct transfer: a segmentation model trained on target (Cityscapes) labels only, evaluated on each domain "
              "({n_src} evenly spaced source images; {val}). Model: {model}; {seeds}.",
        "ko": "직접 전이: 타깃(Cityscapes) 레이블만으로 학습한 분할 모델을 각 도메인에서 평가 "
              "(균등 간격의 소스 영상 {n_src}장, {val}). 모델: {model}; {seeds}."},
    "direct.evaluated_on": {"en": "Evaluated on", "ko": "평가 데이터"},
    "direct.gta5": {"en": "Source (GTA5)", "ko": "소스(GTA5)"},
    "direct.translated": {"en": "Source$\\rightarrow$target (GTA5, CycleGAN)", "ko": "소스$\\rightarrow$타깃(GTA5, CycleGAN)"},
    "direct.val": {"en": "Target (Cityscapes val)", "ko": "타깃(Cityscapes 검증)"},
    # ------------------------------------------------------------ per-class IoU
    "per_class.caption": {
        "en": "Per-class IoU (\\%) on {val}, GTA5 $\\rightarrow$ Cityscapes. Columns: trained on GTA5 (Src); on GTA5 "
              "translated to the Cityscapes style by CycleGAN (CG); with FDA; the CG model adapted with output-level "
              "adversarial (+Out), feature-level adversarial (+Feat) or entropy minimisation (+Ent); self-training, the "
              "thesis' method (ST); the oracle trained on target labels (Orc., the upper bound, never bold). "
              "Model: {model}; {seeds}. {bold}",
        "ko": "{val}에서의 클래스별 IoU(\\%), GTA5 $\\rightarrow$ Cityscapes. 열: GTA5로 학습(Src), CycleGAN으로 Cityscapes 스타일로 "
              "변환한 GTA5로 학습(CG), FDA, CG 모델에 출력 수준 적대 학습(+Out), 특징 수준 적대 학습(+Feat), 엔트로피 최소화(+Ent)를 "
              "더한 것, 본 논문의 자기 학습(ST), 타깃 레이블로 학습한 오라클(Orc., 상한이며 굵게 표시하지 않음). "
              "모델: {model}; {seeds}. {bold}"},
    "per_class.cols": {"en": ["Src", "CG", "FDA", "+Out", "+Feat", "+Ent", "ST", "Orc."],
                       "ko": ["Src", "CG", "FDA", "+Out", "+Feat", "+Ent", "ST", "Orc."]},
    # ------------------------------------------------------------ self-training
    "st.caption": {
        "en": "GTA5 $\\rightarrow$ Cityscapes on {val}: the synthetic teacher (trained on CycleGAN-translated GTA5), the "
              "student after {rounds} rounds of self-training, and its control (the same {rounds} rounds of student "
              "training from the teacher without pseudo-labels) and its empty-stream control (the same batches, every "
              "pseudo-label ignored), against training on GTA5 only and the oracle trained on target labels. Model: {model}; "
              "{seeds}. {bold} Below: differences paired by seed, with their 95\\% interval (Student's t over the seeds); "
              "a difference is a finding only where its interval excludes 0.",
        "ko": "{val}에서의 GTA5 $\\rightarrow$ Cityscapes: 합성 교사 모델(CycleGAN으로 변환한 GTA5로 학습), 자기 학습 {rounds}라운드 "
              "후의 학생 모델, 그 대조군(교사에서 의사 레이블 없이 같은 {rounds}라운드의 학생 학습)을 GTA5만으로 학습한 모델 및 "
              "타깃 레이블로 학습한 오라클과 비교(빈 스트림 대조군: 같은 배치에서 의사 레이블을 모두 무시). 모델: {model}; {seeds}. "
              "{bold} 아래: 시드별로 짝지은 차이와 그 95\\% 구간(t 분포); 구간이 0을 포함하지 않을 때만 결과로 본다."},
    "st.rows": {"en": {"source_only": "Source only (GTA5)", "teacher": "Synthetic teacher (CycleGAN-translated GTA5)",
                       "control": "Control: teacher + {rounds} rounds without pseudo-labels",
                       "empty_stream": "Empty-stream control: the same batches, pseudo-labels ignored",
                       "self_training": "Self-training ({rounds} rounds, ours)", "oracle": "Oracle (target labels)"},
                "ko": {"source_only": "소스만(GTA5)", "teacher": "합성 교사(CycleGAN 변환 GTA5)",
                       "control": "대조군: 교사 + 의사 레이블 없는 {rounds}라운드",
                       "empty_stream": "빈 스트림 대조군: 같은 배치, 의사 레이블 무시",
                       "self_training": "자기 학습({rounds}라운드, 제안)", "oracle": "오라클(타깃 레이블)"}},
    "st.short": {"en": {"teacher": "teacher", "control": "control", "empty_stream": "empty-stream control",
                        "self_training": "self-training"},
                 "ko": {"teacher": "교사", "control": "대조군", "empty_stream": "빈 스트림 대조군", "self_training": "자기 학습"}},
    "st.difference": {"en": "{a} $-$ {b} [95\\% interval]", "ko": "{a} $-$ {b} [95\\% 구간]"},
    # ------------------------------------------------------------ data dependency
    "dd.caption": {
        "en": "Dependence on labeled target data: mIoU (\\%) on {val} with a share of the {n_train} target training images "
              "labeled, for each way of using them: the labeled images only; S+T (translated GTA5 and the labeled images in "
              "every batch); the translated-GTA5 model fine-tuned on them; target-only self-training (a labeled-only teacher "
              "pseudo-labels the other target images, no synthetic data); and the thesis' loop (the S+T model as teacher, "
              "then two rounds of self-training with the labels kept and the real share rising), with its control (the same "
              "rounds without pseudo-labels). Visits: how often the "
              "training (its teacher's included) saw each labeled image. Model: {model}; {seeds}. {bold}",
        "ko": "레이블된 타깃 데이터 의존성: 타깃 학습 영상 {n_train}장 중 일부에 레이블이 있을 때 {val}의 mIoU(\\%). "
              "레이블 영상만, S+T(매 배치에 변환 GTA5와 레이블 영상), 변환 GTA5 모델의 미세 조정, 타깃만 자기 학습(레이블만으로 "
              "학습한 교사가 나머지 타깃 영상을 의사 레이블링, 합성 데이터 없음), 본 논문의 반복(S+T 모델을 교사로 레이블을 유지하며 "
              "실제 비율을 높이는 자기 학습 2라운드)과 그 대조군(의사 레이블 없이 같은 라운드). 방문: 학습(교사 포함)이 레이블 영상 한 장을 본 횟수. 모델: {model}; {seeds}. {bold}"},
    "dd.share": {"en": "Labeled share", "ko": "레이블 비율"},
    "dd.visits": {"en": "Visits", "ko": "방문"},
    "dd.rows": {"en": {"labeled_only": "Labeled only", "joint": "S+T", "finetuned": "Translated model fine-tuned",
                       "target_ssl": "Target-only self-training", "loop": "Synthetic teacher + self-training (ours)",
                       "loop_control": "Its control (no pseudo-labels)"},
                "ko": {"labeled_only": "레이블만", "joint": "S+T", "finetuned": "변환 모델 미세 조정",
                       "target_ssl": "타깃만 자기 학습", "loop": "합성 교사 + 자기 학습(제안)",
                       "loop_control": "대조군(의사 레이블 없음)"}},
    "dd.group": {"en": "{share} of the target images labeled ({n} images)", "ko": "타깃 영상의 {share}에 레이블({n}장)"},
    "dd.group_all": {"en": "All target images labeled ({n} images)", "ko": "모든 타깃 영상에 레이블({n}장)"},
    # ------------------------------------------------------------ published comparison
    "pub.caption": {
        "en": "GTA5 $\\rightarrow$ Cityscapes: mIoU (\\%, 19 classes) of published methods and of this work, grouped by evaluation protocol. "
              "Published: {protocol_pub}, numbers as reported by the cited source. This work: {protocol_ours}, "
              "{seeds}. {nc}",
        "ko": "GTA5 $\\rightarrow$ Cityscapes: 공개된 방법과 본 연구의 mIoU(\\%, 19개 클래스), 평가 프로토콜별로 묶음. "
              "공개 결과: {protocol_pub}, 인용한 출처의 보고값. 본 연구: {protocol_ours}, "
              "{seeds}. {nc}"},
    "pub.group_published": {"en": "Published, Cityscapes val 2048$\\times$1024, {backbone}",
                            "ko": "공개 결과, Cityscapes 검증 2048$\\times$1024, {backbone}"},
    "pub.group_ours": {"en": "This work, {data}, {model}", "ko": "본 연구, {data}, {model}"},
    "pub.ours_seeds": {"en": "this work", "ko": "본 연구"},
    "pub.data_embedded": {"en": "stand-in data", "ko": "대체 데이터"},
    "pub.data_real": {"en": "Cityscapes val", "ko": "Cityscapes 검증"},
    "pub.dagger": {"en": "$^{\\dagger}$ as listed by TLL.", "ko": "$^{\\dagger}$ TLL 인용값."},
    "semi.sources": {"en": "Sources:", "ko": "출처:"},
    "pub.note_tll": {"en": "TLL: as measured or listed by the Transfer-Learning-Library benchmark.",
                     "ko": "TLL: Transfer-Learning-Library 벤치마크의 측정값 또는 인용값."},
    # ------------------------------------------------------------ published semi-supervised
    "semi.caption": {
        "en": "Dependence on labeled target images: mIoU (\\%) by number of labeled images, published semi-supervised results "
              "on Cityscapes, GTA5 plus a few Cityscapes labels, and this work, grouped by protocol (each group lists its own "
              "label counts). Published: {protocol_pub}. This work: {protocol_ours}. {nc}",
        "ko": "레이블된 타깃 영상 수에 따른 mIoU(\\%): Cityscapes에서의 공개된 반지도 학습 결과, GTA5와 소수의 Cityscapes 레이블을 쓴 결과, "
              "본 연구를 프로토콜별로 묶음(그룹마다 레이블 수가 다름). 공개 결과: {protocol_pub}. 본 연구: {protocol_ours}. {nc}"},
    "semi.group_cs": {"en": "Semi-supervised Cityscapes; {backbone}", "ko": "Cityscapes 반지도 학습; {backbone}"},
    "semi.group_gta": {"en": "GTA5 + few Cityscapes labels; {backbone}", "ko": "GTA5 + 소수 Cityscapes 레이블; {backbone}"},
    "semi.group_full": {"en": "Fully supervised Cityscapes; {backbone}", "ko": "Cityscapes 완전 지도 학습; {backbone}"},
    "semi.group_ours": {"en": "This work; {model}", "ko": "본 연구; {model}"},
    "semi.ours_seeds": {"en": "This work: {seeds}.", "ko": "본 연구: {seeds}."},
    "semi.more_seeds": {"en": "{n} labeled: {seeds}.", "ko": "레이블 {n}장: {seeds}."},
    "semi.labels_row": {"en": "labeled images", "ko": "레이블 영상 수"},
    # ------------------------------------------------------------ reported vs reproduced
    "rvr.caption": {
        "en": "Per-class IoU (\\%) reported in the thesis draft (Cityscapes val, DeepLabV3+ ResNet-50) and reproduced here "
              "({data}; {model}; {seeds}), for the task model trained on GTA5 and on GTA5 translated to the Cityscapes style by CycleGAN (GTA5$\\rightarrow$CS).",
        "ko": "논문 초안에 보고된 클래스별 IoU(\\%)(Cityscapes 검증, DeepLabV3+ ResNet-50)와 본 재현 결과({data}; {model}; {seeds}): "
              "GTA5로 학습한 모델과 CycleGAN으로 Cityscapes 스타일로 변환한 GTA5(GTA5$\\rightarrow$CS)로 학습한 모델."},
    "rvr.gta5": {"en": "GTA5", "ko": "GTA5"},
    "rvr.cyclegan": {"en": "GTA5$\\rightarrow$CS", "ko": "GTA5$\\rightarrow$CS"},
    "rvr.trained_on": {"en": "Trained on", "ko": "학습 데이터"},
    "rvrd.caption": {
        "en": "Direct transfer, reported in the thesis draft (Cityscapes, DeepLabV3+ ResNet-50) and reproduced here ({data}; "
              "{model}; {seeds}): a model trained on target labels only, evaluated on each domain.",
        "ko": "직접 전이, 논문 초안의 보고값(Cityscapes, DeepLabV3+ ResNet-50)과 본 재현 결과({data}; {model}; {seeds}): "
              "타깃 레이블만으로 학습한 모델을 각 도메인에서 평가."},
    "rvrd.source": {"en": "Source (GTA5)", "ko": "소스(GTA5)"},
    "rvrd.source_to_target": {"en": "Source$\\rightarrow$target (CycleGAN)", "ko": "소스$\\rightarrow$타깃(CycleGAN)"},
    "rvrd.target": {"en": "Target (Cityscapes val)", "ko": "타깃(Cityscapes 검증)"},
}

# Method names and families of the published-results table (the CSV's English name -> shown name).
METHOD_KO = {
    "Source only": "소스만", "Oracle (Cityscapes labels)": "오라클(Cityscapes 레이블)",
    "CycleGAN (pixel-level only)": "CycleGAN(픽셀 수준만)", "Supervised only": "지도 학습만",
    "Supervised full": "완전 지도 학습", "Labeled only": "레이블만",
    "Synthetic teacher + self-training": "합성 교사 + 자기 학습",
    "Synthetic teacher + self-training (thesis)": "합성 교사 + 자기 학습(제안)",
    "Oracle (target labels)": "오라클(타깃 레이블)",
    "CycleGAN + output-level adversarial": "CycleGAN + 출력 수준 적대",
    "CycleGAN + feature-level adversarial": "CycleGAN + 특징 수준 적대",
    "CycleGAN + entropy minimisation": "CycleGAN + 엔트로피 최소화",
    "DDM (GTA5 + few Cityscapes labels)": "DDM", "U2PL (reproduced)": "U2PL(재현값)",
}
METHOD_EN = {"DDM (GTA5 + few Cityscapes labels)": "DDM", "Synthetic teacher + self-training (thesis)":
             "Teacher + self-training (ours)", "CycleGAN + output-level adversarial": "CycleGAN + output adv.",
             "CycleGAN + feature-level adversarial": "CycleGAN + feature adv.",
             "CycleGAN + entropy minimisation": "CycleGAN + entropy min."}
FAMILY = {  # CSV family -> (en, ko), short enough for one line
    "baseline": ("baseline", "기준"), "input-level": ("input", "입력"), "input+feature-level": ("input + feature", "입력 + 특징"),
    "output-level adversarial": ("output adv.", "출력 적대"), "feature-level adversarial": ("feature adv.", "특징 적대"),
    "entropy": ("entropy", "엔트로피"), "input-level Fourier": ("input (Fourier)", "입력(푸리에)"),
    "translation + self-training loop": ("translation + ST", "변환 + ST"),
    "translation + self-training": ("translation + ST", "변환 + ST"),
    "class-balanced self-training": ("class-balanced ST", "클래스 균형 ST"),
    "instance-adaptive self-training": ("instance-adaptive ST", "인스턴스 적응 ST"),
    "mixing self-training": ("mixing ST", "혼합 ST"), "prototype self-training": ("prototype ST", "프로토타입 ST"),
    "EMA-teacher self-training": ("EMA-teacher ST", "EMA 교사 ST"),
    "EMA-teacher self-training (high-res)": ("EMA-teacher ST, high-res.", "EMA 교사 ST, 고해상도"),
    "masked consistency": ("masked consistency", "마스크 일관성"), "supervised": ("supervised", "지도 학습"),
}
CLASS_KO = {"road": "도로", "sidewalk": "보도", "building": "건물", "wall": "벽", "fence": "울타리", "pole": "기둥",
            "traffic light": "신호등", "traffic sign": "교통 표지", "vegetation": "식생", "terrain": "지형", "sky": "하늘",
            "person": "사람", "rider": "탑승자", "car": "승용차", "truck": "트럭", "bus": "버스", "train": "기차",
            "motorcycle": "오토바이", "bicycle": "자전거", "mIoU": "mIoU"}
ST_ABBREV = {"en": "ST: self-training.", "ko": "ST: 자기 학습."}


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    return lang


def t(key: str, lang: str = "en", **values):
    """The string (or list, or dict) for `key` in `lang`, placeholders filled with `values`."""
    entry = TEXT[key][check_lang(lang)]
    if isinstance(entry, list):
        return [e.format(**values) for e in entry]
    if isinstance(entry, dict):
        return {k: e.format(**values) for k, e in entry.items()}
    return entry.format(**values) if values else entry


def bold_rule(what: str, lang: str = "en") -> str:
    return BOLD_RULE[check_lang(lang)].format(what=t(f"what_{what}", lang))


def method(name: str, lang: str = "en") -> str:
    return (METHOD_KO if lang == "ko" else METHOD_EN).get(name, name)


def family(name: str, lang: str = "en") -> str:
    en, ko = FAMILY.get(name, (name, name))
    return ko if lang == "ko" else en


def class_name(name: str, lang: str = "en") -> str:
    return CLASS_KO.get(name, name) if lang == "ko" else name


# Figure captions (the figures themselves carry English axis labels; see docs/thesis-latex.md).
FIGURES = {
    "fig_samples": {
        "en": "Samples of the source (GTA5) and target (Cityscapes) domains with their labels overlaid in the Cityscapes colours; void (ignored) pixels are not overlaid.",
        "ko": "소스(GTA5)와 타깃(Cityscapes) 도메인의 예시와 Cityscapes 색으로 겹친 레이블. 무시(void) 픽셀에는 색을 겹치지 않았다."},
    "fig_class_frequency": {
        "en": "Share of labeled pixels per class in the source and in the target training and validation sets (logarithmic axis).",
        "ko": "소스와 타깃 학습/검증 세트의 클래스별 레이블 픽셀 비율(로그 축)."},
    "fig_translation": {
        "en": "Source images translated to the target style by CycleGAN and by FDA, beside a target image for reference.",
        "ko": "CycleGAN과 FDA로 타깃 스타일로 변환한 소스 영상과 참고용 타깃 영상."},
    "fig_direct_transfer": {
        "en": "Predictions of the model trained on target labels only, on source, translated source and target images; black: void pixels.",
        "ko": "타깃 레이블만으로 학습한 모델의 소스, 변환된 소스, 타깃 영상에 대한 예측. 검은색: 무시 픽셀."},
    "fig_per_class_iou": {
        "en": "Per-class IoU on the target validation set for each adaptation method; a dot on the axis marks an IoU of 0.",
        "ko": "적응 방법별 타깃 검증 세트의 클래스별 IoU. 축 위의 점은 IoU 0을 뜻한다."},
    "fig_self_training_rounds": {
        "en": "Target validation mIoU per self-training round (round 0: the synthetic teacher), mean and $\\pm$1 std over seeds, with source-only training and the oracle for reference.",
        "ko": "자기 학습 라운드별 타깃 검증 mIoU(라운드 0: 합성 교사), 시드 평균과 $\\pm$1 표준편차, 참고용 소스 전용 학습과 오라클."},
    "fig_pseudo_label_quality": {
        "en": "Pseudo-label quality per round: precision (share of pseudo-labeled pixels that are correct) and coverage (share of pixels that receive a pseudo-label), overall and per class; grey: no pixels of that class were pseudo-labeled (precision) or present (coverage).",
        "ko": "라운드별 의사 레이블 품질: 정밀도(의사 레이블 픽셀 중 정답 비율)와 커버리지(의사 레이블을 받은 픽셀 비율), 전체와 클래스별. 회색: 해당 클래스의 의사 레이블 픽셀(정밀도) 또는 픽셀(커버리지)이 없음."},
    "fig_predictions": {
        "en": "Target validation images, their ground truth, and the predictions of the teacher and of the student after self-training; black: void pixels.",
        "ko": "타깃 검증 영상, 정답, 교사와 자기 학습 후 학생 모델의 예측. 검은색: 무시 픽셀."},
    "fig_data_dependency": {
        "en": "Target validation mIoU against the labeled share of the target training images; dashed: without target labels.",
        "ko": "타깃 학습 영상의 레이블 비율에 따른 타깃 검증 mIoU. 점선: 타깃 레이블 없이 학습."},
}


def figure_caption(name: str, lang: str = "en") -> str:
    return FIGURES[name][check_lang(lang)]


# The figures' lettering in Korean (thesislib.report.figures.lettered): whole texts, then the words of a text.
FIGURE_KO = {
    "source image": "소스 영상", "source labels": "소스 레이블", "target image": "타깃 영상", "target labels": "타깃 레이블",
    "source": "소스", "target": "타깃", "CycleGAN (source→target)": "CycleGAN(소스→타깃)", "image": "영상",
    "ground truth": "정답", "target-trained model": "타깃 학습 모델", "Source domain": "소스 도메인",
    "Source→Target": "소스→타깃", "Target domain": "타깃 도메인", "void (ignored)": "무시(void)",
    "void (not overlaid)": "무시(겹치지 않음)", "share of labeled pixels (%)": "레이블 픽셀 비율(%)",
    "source (GTA5)": "소스(GTA5)", "target train": "타깃 학습", "target val": "타깃 검증",
    "self-training (round 0 = teacher)": "자기 학습(라운드 0 = 교사)", "round": "라운드", "precision": "정밀도",
    "coverage": "커버리지", "pixels (%)": "픽셀(%)", "all classes": "전체 클래스", "precision, coverage (%)": "정밀도, 커버리지(%)",
    "grey: none pseudo-labeled / none present": "회색: 의사 레이블 픽셀 없음 / 픽셀 없음",
    "precision (pixels)": "정밀도(픽셀)", "precision (class mean)": "정밀도(클래스 평균)",
    "labeled share of target-train images": "타깃 학습 영상의 레이블 비율", "source only (GTA5)": "소스만(GTA5)",
    "oracle (target labels)": "오라클(타깃 레이블)", "control (no pseudo-labels)": "대조군(의사 레이블 없음)",
    "empty-stream control": "빈 스트림 대조군",
    "no target labels: self-training": "타깃 레이블 없음: 자기 학습", "no target labels: teacher only": "타깃 레이블 없음: 교사만",
    "labeled only": "레이블만", "S+T (translated source + labels)": "S+T(변환 소스 + 레이블)",
    "translated model fine-tuned": "변환 모델 미세 조정", "target-only self-training": "타깃만 자기 학습",
    "synthetic teacher + self-training": "합성 교사 + 자기 학습", "GTA5": "GTA5", "GTA5→CS (CycleGAN)": "GTA5→CS(CycleGAN)",
    "+ output adv.": "+ 출력 적대", "+ feature adv.": "+ 특징 적대", "+ entropy min.": "+ 엔트로피 최소화",
    "self-training (ours)": "자기 학습(제안)", "oracle": "오라클", "teacher": "교사", "student": "학생",
}
_FIGURE_PATTERNS = [(r"^teacher \(round (\d+)\)$", "교사(라운드 {0})"), (r"^student \(round (\d+)\)$", "학생(라운드 {0})")]


def figure_word(text: str, lang: str = "en") -> str:
    """A figure's text in `lang`: a known text, a class name, or a known pattern; else unchanged."""
    import re
    if lang == "en":
        return text
    if text in FIGURE_KO:
        return FIGURE_KO[text]
    if text in CLASS_KO:
        return CLASS_KO[text]
    for pattern, ko in _FIGURE_PATTERNS:
        if m := re.match(pattern, text):
            return ko.format(*m.groups())
    return text
