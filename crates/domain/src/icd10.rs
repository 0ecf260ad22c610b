//! ICD-10 diagnosis codes (C2 search by disease, C5 standard dictionary).
//!
//! - [`normalize_icd10`] turns user or HIS input into the canonical form
//!   (`e119` → `E11.9`). Any well-formed code is accepted, not only the ones
//!   in the catalogue: the catalogue is a picking aid, not a whitelist.
//! - [`ICD10_COMMON`] is a small bundled catalogue of codes common in
//!   Chinese primary care and chronic-disease management, with Chinese and
//!   English (WHO ICD-10) names, for pickers and [`search`].
//!
//! Invariants: every catalogue code is already normalised and unique;
//! canonical codes match `^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$`; an
//! [`Icd10Error`] never echoes the input.

use thiserror::Error;

/// An input was not a well-formed ICD-10 code. The input is not retained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum Icd10Error {
    /// Not of the form letter, two digits, optional dot and 1–4 characters.
    #[error("{}", self.message())]
    Format,
}

impl Icd10Error {
    /// Stable machine-readable code (for APIs and translations).
    pub const fn code(self) -> &'static str {
        match self {
            Self::Format => "icd10_format",
        }
    }

    /// Short English explanation, safe to show and to log.
    pub const fn message(self) -> &'static str {
        match self {
            Self::Format => "ICD-10 code must be a letter, two digits and optionally a dot with 1-4 characters",
        }
    }
}

/// One entry of the bundled ICD-10 catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Icd10Entry {
    /// Canonical code, e.g. `E11.9`.
    pub code: &'static str,
    /// Chinese name as used clinically in China.
    pub name_zh: &'static str,
    /// English name (WHO ICD-10).
    pub name_en: &'static str,
}

const fn e(code: &'static str, name_zh: &'static str, name_en: &'static str) -> Icd10Entry {
    Icd10Entry { code, name_zh, name_en }
}

/// Common codes in primary care and chronic disease, ordered by code.
pub static ICD10_COMMON: &[Icd10Entry] = &[
    e("A09.9", "胃肠炎和结肠炎（病因未特指）", "Gastroenteritis and colitis of unspecified origin"),
    e("B02.9", "带状疱疹", "Zoster without complication"),
    e("B18.1", "慢性乙型病毒性肝炎", "Chronic viral hepatitis B without delta-agent"),
    e("D50.9", "缺铁性贫血", "Iron deficiency anaemia, unspecified"),
    e("D64.9", "贫血", "Anaemia, unspecified"),
    e("E03.9", "甲状腺功能减退症", "Hypothyroidism, unspecified"),
    e("E04.1", "非毒性单个甲状腺结节", "Nontoxic single thyroid nodule"),
    e("E05.9", "甲状腺功能亢进症", "Thyrotoxicosis, unspecified"),
    e("E10", "1型糖尿病", "Type 1 diabetes mellitus"),
    e("E11", "2型糖尿病", "Type 2 diabetes mellitus"),
    e("E11.2", "2型糖尿病伴有肾的并发症", "Type 2 diabetes mellitus with renal complications"),
    e("E11.3", "2型糖尿病伴有眼的并发症", "Type 2 diabetes mellitus with ophthalmic complications"),
    e("E11.4", "2型糖尿病伴有神经的并发症", "Type 2 diabetes mellitus with neurological complications"),
    e("E11.9", "2型糖尿病不伴有并发症", "Type 2 diabetes mellitus without complications"),
    e("E55.9", "维生素D缺乏", "Vitamin D deficiency, unspecified"),
    e("E66.9", "肥胖症", "Obesity, unspecified"),
    e("E78.0", "纯高胆固醇血症", "Pure hypercholesterolaemia"),
    e("E78.1", "纯高甘油三酯血症", "Pure hyperglyceridaemia"),
    e("E78.5", "高脂血症", "Hyperlipidaemia, unspecified"),
    e("E79.0", "高尿酸血症", "Hyperuricaemia without signs of inflammatory arthritis and tophaceous disease"),
    e("F03", "痴呆", "Unspecified dementia"),
    e("F32.9", "抑郁发作", "Depressive episode, unspecified"),
    e("F41.1", "广泛性焦虑障碍", "Generalized anxiety disorder"),
    e("F41.9", "焦虑障碍", "Anxiety disorder, unspecified"),
    e("F51.0", "非器质性失眠症", "Nonorganic insomnia"),
    e("G20", "帕金森病", "Parkinson disease"),
    e("G30.9", "阿尔茨海默病", "Alzheimer disease, unspecified"),
    e("G40.9", "癫痫", "Epilepsy, unspecified"),
    e("G43.9", "偏头痛", "Migraine, unspecified"),
    e("G44.2", "紧张型头痛", "Tension-type headache"),
    e("G47.0", "失眠症（入睡和维持睡眠障碍）", "Disorders of initiating and maintaining sleep [insomnias]"),
    e("H10.9", "结膜炎", "Conjunctivitis, unspecified"),
    e("H25.9", "老年性白内障", "Senile cataract, unspecified"),
    e("H40.9", "青光眼", "Glaucoma, unspecified"),
    e("H66.9", "中耳炎", "Otitis media, unspecified"),
    e("H81.1", "良性阵发性眩晕", "Benign paroxysmal vertigo"),
    e("I10", "原发性高血压", "Essential (primary) hypertension"),
    e("I11.9", "高血压性心脏病不伴有心力衰竭", "Hypertensive heart disease without (congestive) heart failure"),
    e("I20.0", "不稳定型心绞痛", "Unstable angina"),
    e("I20.9", "心绞痛", "Angina pectoris, unspecified"),
    e("I21.9", "急性心肌梗死", "Acute myocardial infarction, unspecified"),
    e("I25.1", "动脉粥样硬化性心脏病", "Atherosclerotic heart disease"),
    e("I48", "心房颤动和扑动", "Atrial fibrillation and flutter"),
    e("I50.9", "心力衰竭", "Heart failure, unspecified"),
    e("I61.9", "脑内出血", "Intracerebral haemorrhage, unspecified"),
    e("I63.9", "脑梗死", "Cerebral infarction, unspecified"),
    e("I64", "脑卒中，未特指为出血或梗死", "Stroke, not specified as haemorrhage or infarction"),
    e("I67.2", "脑动脉粥样硬化", "Cerebral atherosclerosis"),
    e("I69.3", "脑梗死后遗症", "Sequelae of cerebral infarction"),
    e("I83.9", "下肢静脉曲张", "Varicose veins of lower extremities without ulcer or inflammation"),
    e("I95.9", "低血压", "Hypotension, unspecified"),
    e("J00", "急性鼻咽炎（普通感冒）", "Acute nasopharyngitis [common cold]"),
    e("J02.9", "急性咽炎", "Acute pharyngitis, unspecified"),
    e("J03.9", "急性扁桃体炎", "Acute tonsillitis, unspecified"),
    e("J06.9", "急性上呼吸道感染", "Acute upper respiratory infection, unspecified"),
    e("J11.1", "流行性感冒（病毒未标明）", "Influenza with other respiratory manifestations, virus not identified"),
    e("J18.9", "肺炎", "Pneumonia, unspecified"),
    e("J20.9", "急性支气管炎", "Acute bronchitis, unspecified"),
    e("J30.4", "变应性鼻炎", "Allergic rhinitis, unspecified"),
    e("J32.9", "慢性鼻窦炎", "Chronic sinusitis, unspecified"),
    e("J40", "支气管炎，未特指为急性或慢性", "Bronchitis, not specified as acute or chronic"),
    e("J42", "慢性支气管炎", "Unspecified chronic bronchitis"),
    e("J44.9", "慢性阻塞性肺疾病", "Chronic obstructive pulmonary disease, unspecified"),
    e("J45.9", "哮喘", "Asthma, unspecified"),
    e("K21.9", "胃食管反流病", "Gastro-oesophageal reflux disease without oesophagitis"),
    e("K25.9", "胃溃疡", "Gastric ulcer, unspecified as acute or chronic, without haemorrhage or perforation"),
    e("K26.9", "十二指肠溃疡", "Duodenal ulcer, unspecified as acute or chronic, without haemorrhage or perforation"),
    e("K29.5", "慢性胃炎", "Chronic gastritis, unspecified"),
    e("K29.7", "胃炎", "Gastritis, unspecified"),
    e("K30", "功能性消化不良", "Functional dyspepsia"),
    e("K58.9", "肠易激综合征", "Irritable bowel syndrome without diarrhoea"),
    e("K59.0", "便秘", "Constipation"),
    e("K76.0", "脂肪肝", "Fatty (change of) liver, not elsewhere classified"),
    e("K80.2", "胆囊结石", "Calculus of gallbladder without cholecystitis"),
    e("K81.1", "慢性胆囊炎", "Chronic cholecystitis"),
    e("L20.9", "特应性皮炎", "Atopic dermatitis, unspecified"),
    e("L30.9", "皮炎", "Dermatitis, unspecified"),
    e("L40.0", "寻常型银屑病", "Psoriasis vulgaris"),
    e("L50.9", "荨麻疹", "Urticaria, unspecified"),
    e("L70.0", "寻常痤疮", "Acne vulgaris"),
    e("M06.9", "类风湿关节炎", "Rheumatoid arthritis, unspecified"),
    e("M10.9", "痛风", "Gout, unspecified"),
    e("M17.9", "膝关节病", "Gonarthrosis, unspecified"),
    e("M51.2", "椎间盘移位（椎间盘突出）", "Other specified intervertebral disc displacement"),
    e("M54.2", "颈痛", "Cervicalgia"),
    e("M54.5", "腰痛", "Low back pain"),
    e("M75.0", "粘连性肩关节囊炎（肩周炎）", "Adhesive capsulitis of shoulder"),
    e("M79.1", "肌痛", "Myalgia"),
    e("M81.9", "骨质疏松", "Osteoporosis, unspecified"),
    e("N18.9", "慢性肾脏病", "Chronic kidney disease, unspecified"),
    e("N20.0", "肾结石", "Calculus of kidney"),
    e("N30.0", "急性膀胱炎", "Acute cystitis"),
    e("N39.0", "泌尿道感染", "Urinary tract infection, site not specified"),
    e("N40", "前列腺增生", "Hyperplasia of prostate"),
    e("N76.0", "急性阴道炎", "Acute vaginitis"),
    e("N94.6", "痛经", "Dysmenorrhoea, unspecified"),
    e("R00.2", "心悸", "Palpitations"),
    e("R05", "咳嗽", "Cough"),
    e("R06.0", "呼吸困难", "Dyspnoea"),
    e("R07.4", "胸痛", "Chest pain, unspecified"),
    e("R10.4", "腹痛", "Other and unspecified abdominal pain"),
    e("R11", "恶心和呕吐", "Nausea and vomiting"),
    e("R42", "头晕和眩晕", "Dizziness and giddiness"),
    e("R50.9", "发热", "Fever, unspecified"),
    e("R51", "头痛", "Headache"),
    e("R53", "不适和疲劳", "Malaise and fatigue"),
    e("R73.0", "糖耐量异常", "Abnormal glucose tolerance test"),
    e("Z00.0", "一般医学检查", "General medical examination"),
    e("Z71.3", "饮食咨询和监测", "Dietary counselling and surveillance"),
    e("Z76.0", "签发重复处方", "Issue of repeat prescription"),
];

/// Normalises an ICD-10 code: trims, upper-cases ASCII and inserts a
/// missing dot (`E119` → `E11.9`). The result matches
/// `^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$`; anything else is
/// [`Icd10Error::Format`].
pub fn normalize_icd10(raw: &str) -> Result<String, Icd10Error> {
    let s = raw.trim().to_ascii_uppercase();
    let b = s.as_bytes();
    let head_ok = b.len() >= 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2].is_ascii_digit();
    if !head_ok {
        return Err(Icd10Error::Format);
    }
    let rest = &s[3..];
    if rest.is_empty() {
        return Ok(s);
    }
    let tail = rest.strip_prefix('.').unwrap_or(rest);
    let tail_ok = (1..=4).contains(&tail.len()) && tail.bytes().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
    if tail_ok { Ok(format!("{}.{tail}", &s[..3])) } else { Err(Icd10Error::Format) }
}

/// Finds a catalogue entry by code; the code is normalised first, so
/// `"e119"` finds `E11.9`. Well-formed codes outside the catalogue give
/// `None`.
pub fn lookup(code: &str) -> Option<&'static Icd10Entry> {
    let code = normalize_icd10(code).ok()?;
    ICD10_COMMON.iter().find(|entry| entry.code == code)
}

/// Searches the catalogue: case-insensitive prefix match on the code (a
/// missing dot is tolerated, `e11` and `E119` both work) or substring match
/// on the Chinese or English name. Results keep catalogue (code) order; at
/// most `limit`. A blank query returns nothing.
pub fn search(query: &str, limit: usize) -> Vec<&'static Icd10Entry> {
    let q = query.trim().to_lowercase();
    if q.is_empty() {
        return Vec::new();
    }
    let q_code: String = q.chars().filter(|c| *c != '.').collect::<String>().to_ascii_uppercase();
    ICD10_COMMON
        .iter()
        .filter(|entry| {
            let code = entry.code.replace('.', "");
            (!q_code.is_empty() && code.starts_with(&q_code))
                || entry.name_zh.contains(&q)
                || entry.name_en.to_lowercase().contains(&q)
        })
        .take(limit)
        .collect()
}
